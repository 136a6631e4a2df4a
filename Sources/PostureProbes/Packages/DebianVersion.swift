/// Debian version ordering, as deb-version(7) defines it and `dpkg --compare-versions` applies it:
/// `[epoch:]upstream[-revision]`, epochs numerically, then upstream and revision each compared as
/// alternating non-digit parts (letters before other characters, `~` before everything, even the end)
/// and numeric parts (by value).
enum DebianVersion {
    /// Negative, zero or positive as `a` sorts before, equal to or after `b`.
    static func compare(_ a: String, _ b: String) -> Int {
        let left = parts(Array(a.utf8))
        let right = parts(Array(b.utf8))
        if left.epoch != right.epoch { return left.epoch < right.epoch ? -1 : 1 }
        let upstream = compareFragment(left.upstream, right.upstream)
        if upstream != 0 { return upstream }
        return compareFragment(left.revision, right.revision)
    }

    static func isOrderedBefore(_ a: String, _ b: String) -> Bool { compare(a, b) < 0 }

    private static func parts(_ bytes: [UInt8]) -> (
        epoch: Int, upstream: ArraySlice<UInt8>, revision: ArraySlice<UInt8>
    ) {
        var rest = bytes[...]
        var epoch = 0
        if let colon = rest.firstIndex(of: UInt8(ascii: ":")) {
            // A malformed epoch counts as 0, as dpkg would refuse rather than order it; never trap.
            epoch = rest[..<colon].reduce(0) { value, digit in
                (48...57).contains(digit) ? min(value &* 10 &+ Int(digit - 48), Int(Int32.max)) : value
            }
            rest = rest[(colon + 1)...]
        }
        if let dash = rest.lastIndex(of: UInt8(ascii: "-")) {
            return (epoch, rest[..<dash], rest[(dash + 1)...])
        }
        return (epoch, rest, [])
    }

    private static func order(_ c: UInt8?) -> Int {
        guard let c else { return 0 }
        if (48...57).contains(c) { return 0 }
        if (65...90).contains(c) || (97...122).contains(c) { return Int(c) }
        if c == UInt8(ascii: "~") { return -1 }
        return Int(c) + 256
    }

    private static func isDigit(_ c: UInt8?) -> Bool { c.map { (48...57).contains($0) } ?? false }

    private static func compareFragment(_ a: ArraySlice<UInt8>, _ b: ArraySlice<UInt8>) -> Int {
        var i = a.startIndex
        var j = b.startIndex
        func at(_ s: ArraySlice<UInt8>, _ k: Int) -> UInt8? { k < s.endIndex ? s[k] : nil }
        while i < a.endIndex || j < b.endIndex {
            while (at(a, i) != nil && !isDigit(at(a, i))) || (at(b, j) != nil && !isDigit(at(b, j))) {
                let x = order(at(a, i))
                let y = order(at(b, j))
                if x != y { return x < y ? -1 : 1 }
                i += 1
                j += 1
            }
            while at(a, i) == UInt8(ascii: "0") { i += 1 }
            while at(b, j) == UInt8(ascii: "0") { j += 1 }
            var firstDifference = 0
            while isDigit(at(a, i)) && isDigit(at(b, j)) {
                if firstDifference == 0 { firstDifference = Int(a[i]) - Int(b[j]) }
                i += 1
                j += 1
            }
            if isDigit(at(a, i)) { return 1 }
            if isDigit(at(b, j)) { return -1 }
            if firstDifference != 0 { return firstDifference < 0 ? -1 : 1 }
        }
        return 0
    }
}
