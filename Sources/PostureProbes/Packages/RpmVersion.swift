/// rpm's version ordering, as `rpmvercmp` (rpm 4.18, `rpmio/rpmvercmp.c`) applies it to a version or a release:
/// alternating runs of ASCII digits (by value) and letters (byte order), other characters only separating
/// them; `~` sorts before everything, even the end (`1.0~rc1` < `1.0`); `^` after the end but before any
/// further segment (`1.0` < `1.0^git1` < `1.0.1`); a numeric run is newer than a letter run.
enum RpmVersion {
    /// Negative, zero or positive as `a` sorts before, equal to or after `b`.
    static func compare(_ a: String, _ b: String) -> Int {
        if a == b { return 0 }
        let one = Array(a.utf8)
        let two = Array(b.utf8)
        var i = 0
        var j = 0
        func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
        func isAlpha(_ c: UInt8) -> Bool { (c >= 65 && c <= 90) || (c >= 97 && c <= 122) }
        func isSeparator(_ c: UInt8) -> Bool {
            !isDigit(c) && !isAlpha(c) && c != UInt8(ascii: "~") && c != UInt8(ascii: "^")
        }
        while i < one.count || j < two.count {
            while i < one.count, isSeparator(one[i]) { i += 1 }
            while j < two.count, isSeparator(two[j]) { j += 1 }
            let x: UInt8? = i < one.count ? one[i] : nil
            let y: UInt8? = j < two.count ? two[j] : nil
            if x == UInt8(ascii: "~") || y == UInt8(ascii: "~") {
                if x != UInt8(ascii: "~") { return 1 }
                if y != UInt8(ascii: "~") { return -1 }
                i += 1
                j += 1
                continue
            }
            if x == UInt8(ascii: "^") || y == UInt8(ascii: "^") {
                if x == nil { return -1 }
                if y == nil { return 1 }
                if x != UInt8(ascii: "^") { return 1 }
                if y != UInt8(ascii: "^") { return -1 }
                i += 1
                j += 1
                continue
            }
            guard let first = x, y != nil else { break }
            let numeric = isDigit(first)
            let run = numeric ? isDigit : isAlpha
            var endOne = i
            while endOne < one.count, run(one[endOne]) { endOne += 1 }
            var endTwo = j
            while endTwo < two.count, run(two[endTwo]) { endTwo += 1 }
            // The other side's run is of the other kind (empty here): a number is newer than letters.
            if endTwo == j { return numeric ? 1 : -1 }
            var left = one[i..<endOne]
            var right = two[j..<endTwo]
            if numeric {
                left = left.drop { $0 == UInt8(ascii: "0") }
                right = right.drop { $0 == UInt8(ascii: "0") }
                if left.count != right.count { return left.count > right.count ? 1 : -1 }
            }
            if left != right { return left.lexicographicallyPrecedes(right) ? -1 : 1 }
            i = endOne
            j = endTwo
        }
        if i >= one.count && j >= two.count { return 0 }
        return i >= one.count ? -1 : 1
    }
}

/// An rpm package's epoch, version and release, ordered as rpm and dnf order them: epoch by value (none is 0),
/// then version, then release, each by `RpmVersion`.
struct RpmEVR: Hashable, Comparable, CustomStringConvertible {
    var epoch: Int
    var version: String
    var release: String

    static func < (a: RpmEVR, b: RpmEVR) -> Bool { compare(a, b) < 0 }

    static func compare(_ a: RpmEVR, _ b: RpmEVR) -> Int {
        if a.epoch != b.epoch { return a.epoch < b.epoch ? -1 : 1 }
        let version = RpmVersion.compare(a.version, b.version)
        return version != 0 ? version : RpmVersion.compare(a.release, b.release)
    }

    /// `1.2-3.fc39`, with `2:` in front when the epoch is not 0 (as dnf prints it).
    var description: String { (epoch != 0 ? "\(epoch):" : "") + "\(version)-\(release)" }
}
