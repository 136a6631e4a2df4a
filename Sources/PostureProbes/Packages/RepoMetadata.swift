import PostureLinux
import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One package a repository offers, as its primary metadata lists it.
struct RepoPackage {
    var name: String
    var architecture: String
    var evr: RpmEVR
}

/// One advisory of a repository's updateinfo: its id, type (`security`, `bugfix`, `enhancement`,
/// `newpackage`), severity and issue date, and the package versions that carry it.
struct RepoAdvisory {
    var id: String
    var type: String
    var severity: String?
    var issued: Date?
    var packages: [RepoPackage]
}

enum RepoXMLReader {
    /// Scans a (possibly compressed) metadata file, refusing more than `limit` bytes of XML.
    static func read(_ path: String, limit: Int = 4 << 30, _ handle: (RepoXMLScanner.Token) throws -> Void) throws {
        var scanner = RepoXMLScanner()
        var failure: (any Error)?
        try IndexFileReader.forEachChunk(path, limit: limit) { (bytes) throws(SystemError) in
            guard failure == nil else { return }
            do { try scanner.feed(bytes, handle) } catch { failure = error }
        }
        if let failure { throw ProbeError("\(path): \(failure)") }
        try scanner.finish()
    }

    /// Every `<package>` of a primary metadata file named in `names` (nil: all; the others' fields unread).
    static func primary(_ path: String, names: Set<String>?, _ body: (RepoPackage) -> Void) throws {
        let wanted = { (name: String) in names?.contains(name) ?? true }
        var depth = 0
        var package: (name: String?, arch: String?, evr: RpmEVR?)?
        var capture: String?
        var text = ""
        try read(path) { token in
            switch token.kind {
            case .start:
                depth += 1
                if token.isNamed("package"), depth == 2 {
                    package = (nil, nil, nil)
                } else if package != nil, depth == 3 {
                    if token.isNamed("name") || token.isNamed("arch") {
                        capture = token.isNamed("name") ? "name" : "arch"
                        text = ""
                    } else if token.isNamed("version"), package?.name.map(wanted) ?? true {
                        package?.evr = RpmEVR(
                            epoch: Int(token.attribute("epoch") ?? "0") ?? 0, version: token.attribute("ver") ?? "",
                            release: token.attribute("rel") ?? "")
                    }
                }
            case .text where capture != nil: text += token.text
            case .end:
                if capture == "name" { package?.name = text } else if capture == "arch" { package?.arch = text }
                capture = nil
                if token.isNamed("package"), depth == 2, let found = package {
                    if let name = found.name, let arch = found.arch, let evr = found.evr, arch != "src", wanted(name) {
                        body(RepoPackage(name: name, architecture: arch, evr: evr))
                    }
                    package = nil
                }
                depth -= 1
            default: break
            }
        }
    }

    /// Every advisory of an updateinfo file of the given type (`security`), with its packages.
    static func updateinfo(_ path: String, type wanted: String, _ body: (RepoAdvisory) -> Void) throws {
        var advisory: RepoAdvisory?
        var capture: String?
        var text = ""
        try read(path) { token in
            switch token.kind {
            case .start where token.isNamed("update"):
                let type = token.attribute("type") ?? ""
                advisory = type == wanted ? RepoAdvisory(id: "", type: type, packages: []) : nil
            case .start where advisory != nil:
                if token.isNamed("id") || token.isNamed("severity") {
                    capture = token.isNamed("id") ? "id" : "severity"
                    text = ""
                } else if token.isNamed("issued") {
                    advisory?.issued = token.attribute("date").flatMap(AdvisoryDate.parse)
                } else if token.isNamed("package"), let name = token.attribute("name"),
                    let arch = token.attribute("arch"), let version = token.attribute("version")
                {
                    let evr = RpmEVR(
                        epoch: Int(token.attribute("epoch") ?? "0") ?? 0, version: version,
                        release: token.attribute("release") ?? "")
                    advisory?.packages.append(RepoPackage(name: name, architecture: arch, evr: evr))
                }
            case .text where capture != nil: text += token.text
            case .end:
                let value = text.trimmedOfSpace
                if capture == "id" { advisory?.id = value } else if capture == "severity" { advisory?.severity = value }
                capture = nil
                if token.isNamed("update"), let found = advisory {
                    if !found.id.isEmpty { body(found) }
                    advisory = nil
                }
            default: break
            }
        }
    }
}

/// updateinfo's `issued date`: `2026-11-20 10:00:00` (Fedora, RHEL: UTC), `2026-11-20`, or seconds since the
/// epoch (SUSE, some mirrors' tools).
enum AdvisoryDate {
    static func parse(_ text: String) -> Date? {
        let trimmed = text.trimmedOfSpace
        if !trimmed.isEmpty, trimmed.allSatisfy(\.isNumber), let seconds = Int64(trimmed), seconds < 1 << 40 {
            return Date(timeIntervalSince1970: Double(seconds))
        }
        let parts = trimmed.split(whereSeparator: { $0 == " " || $0 == "T" })
        guard let day = parts.first else { return nil }
        let ymd = day.split(separator: "-").compactMap { Int($0) }
        guard ymd.count == 3, (1970...9999).contains(ymd[0]), (1...12).contains(ymd[1]), (1...31).contains(ymd[2])
        else { return nil }
        var seconds = 0
        if parts.count > 1 {
            let time = parts[1].prefix { $0 != "Z" && $0 != "+" }.split(separator: ":").compactMap { Int($0) }
            guard time.count >= 2, (0...23).contains(time[0]), (0...59).contains(time[1]) else { return nil }
            seconds = time[0] * 3600 + time[1] * 60 + (time.count > 2 ? min(max(time[2], 0), 60) : 0)
        }
        let days = Timestamp.daysSinceEpoch(year: Int64(ymd[0]), month: Int64(ymd[1]), day: Int64(ymd[2]))
        return Date(timeIntervalSince1970: Double(Int(days) * 86400 + seconds))
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces, tabs and line ends.
    var trimmedOfSpace: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0.isNewline }
        return String(drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}
