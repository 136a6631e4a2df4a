import PostureLinux
import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What dnf last fetched for each enabled repository, as its metadata cache holds it: `repomd.xml`, the
/// `primary` metadata (every package offered) and `updateinfo` (the advisories). dnf 4 keeps it under
/// `/var/cache/dnf/<repo>-<hash>/repodata`, dnf 5 under `/var/cache/libdnf5/<repo>-<hash>/repodata`.
struct DnfRepository {
    var id: String
    /// The cache directory, host-absolute (`/var/cache/dnf/updates-2e0b4f7e1d2c3a4b`).
    var directory: String
    var primary: String
    var updateinfo: String?
    /// The primary metadata's `timestamp` in `repomd.xml`: when the repository was published.
    var published: Date?

    static let configurationDirectories = ["/etc/yum.repos.d", "/etc/distro.repos.d", "/usr/share/dnf5/repos.d"]
    static let cacheDirectories = ["/var/cache/libdnf5", "/var/cache/dnf"]

    /// The enabled repositories' ids from the `.repo` files (INI: a `[id]` section each; `enabled` defaults
    /// to on, as in dnf.conf(5)), and the files read (whose change means the answer may change).
    static func enabledIDs(_ root: HostRoot) -> (ids: Set<String>, files: [String]) {
        var enabled: [String: Bool] = [:]
        var files: [String] = []
        for directory in configurationDirectories {
            for name in (try? root.contentsOfDirectory(directory)) ?? [] where name.hasSuffix(".repo") {
                let path = "\(directory)/\(name)"
                guard let text = try? root.readText(path, limit: 1 << 20) else { continue }
                files.append(path)
                var section: String?
                for raw in text.split(whereSeparator: \.isNewline) {
                    let line = String(raw.trimmedOfSpace)
                    if line.hasPrefix("[") && line.hasSuffix("]") {
                        section = String(line.dropFirst().dropLast()).trimmedOfSpace
                        // dnf reads the last definition of an id; a later file may turn it off again.
                        if let section { enabled[section] = true }
                    } else if let section, let equals = line.firstIndex(of: "="),
                        line[..<equals].trimmedOfSpace == "enabled"
                    {
                        let value = line[line.index(after: equals)...].trimmedOfSpace.lowercased()
                        enabled[section] = !["0", "false", "no", "off"].contains(value)
                    }
                }
            }
        }
        return (Set(enabled.filter(\.value).keys), files)
    }

    /// The cached metadata of each enabled repository: for an id cached twice (its URL changed, or both dnf
    /// 4 and dnf 5 ran), the directory whose `repomd.xml` is newest.
    static func cached(_ root: HostRoot, enabled: Set<String>) throws -> [DnfRepository] {
        var newest: [String: (modified: Int64, directory: String)] = [:]
        for base in cacheDirectories {
            for name in (try? root.contentsOfDirectory(base)) ?? [] {
                // `<id>-<16 hex digits>`; the id itself may contain dashes.
                guard let dash = name.lastIndex(of: "-"), name.distance(from: dash, to: name.endIndex) == 17,
                    name[name.index(after: dash)...].allSatisfy(\.isHexDigit)
                else { continue }
                let id = String(name[..<dash])
                let directory = "\(base)/\(name)"
                guard enabled.contains(id),
                    let modified = try? root.modificationSeconds("\(directory)/repodata/repomd.xml")
                else { continue }
                if newest[id].map({ $0.modified < modified }) ?? true { newest[id] = (modified, directory) }
            }
        }
        return try newest.sorted { $0.key < $1.key }.compactMap { id, found in
            try repository(root, id: id, directory: found.directory)
        }
    }

    /// Reads `repomd.xml`: where the primary and updateinfo metadata are (nil without primary metadata, as
    /// when dnf fetched only `repomd.xml` so far).
    private static func repository(_ root: HostRoot, id: String, directory: String) throws -> DnfRepository? {
        var locations: [String: String] = [:]
        var primaryTimestamp: Date?
        var type: String?
        var inTimestamp = false
        try RepoXMLReader.read(root.hostPath("\(directory)/repodata/repomd.xml"), limit: 16 << 20) { token in
            switch token.kind {
            case .start where token.isNamed("data"): type = token.attribute("type")
            case .start where token.isNamed("location"):
                if let type, let href = token.attribute("href") { locations[type] = href }
            case .start where token.isNamed("timestamp"): inTimestamp = true
            case .text where inTimestamp && type == "primary":
                primaryTimestamp = Double(token.text.trimmedOfSpace)
                    .map { Date(timeIntervalSince1970: $0) }
            case .end where token.isNamed("timestamp"): inTimestamp = false
            case .end where token.isNamed("data"): type = nil
            default: break
            }
        }
        // dnf stores each file under `repodata/` by its base name, wherever the repository put it.
        func cachedFile(_ type: String) -> String? {
            guard let href = locations[type], let base = href.split(separator: "/").last,
                !base.hasPrefix("."), root.exists("\(directory)/repodata/\(base)")
            else { return nil }
            return "\(directory)/repodata/\(base)"
        }
        guard let primary = cachedFile("primary") else { return nil }
        return DnfRepository(
            id: id, directory: directory, primary: primary, updateinfo: cachedFile("updateinfo"),
            published: primaryTimestamp)
    }
}

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
