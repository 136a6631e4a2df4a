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
    /// dnf's `priority` (lower wins; 99 by default): a package offered by a repository of better priority
    /// hides the versions of it in the others, however new.
    var priority: Int
    /// The cache directory, host-absolute (`/var/cache/dnf/updates-2e0b4f7e1d2c3a4b`).
    var directory: String
    var primary: String
    var updateinfo: String?
    /// The primary metadata's `timestamp` in `repomd.xml`: when the repository was published.
    var published: Date?

    static let cacheDirectories = ["/var/cache/libdnf5", "/var/cache/dnf"]

    /// The cached metadata of each enabled repository: for an id cached twice (its URL changed, or both dnf
    /// 4 and dnf 5 ran), the directory whose `repomd.xml` is newest.
    static func cached(_ root: HostRoot, enabled: [String: DnfConfiguration.Repository]) throws -> [DnfRepository] {
        var newest: [String: (modified: Int64, directory: String)] = [:]
        for base in cacheDirectories {
            for name in (try? root.contentsOfDirectory(base)) ?? [] {
                // `<id>-<16 hex digits>`; the id itself may contain dashes.
                guard let dash = name.lastIndex(of: "-"), name.distance(from: dash, to: name.endIndex) == 17,
                    name[name.index(after: dash)...].allSatisfy(\.isHexDigit)
                else { continue }
                let id = String(name[..<dash])
                let directory = "\(base)/\(name)"
                guard enabled[id] != nil,
                    let modified = try? root.modificationSeconds("\(directory)/repodata/repomd.xml")
                else { continue }
                if newest[id].map({ $0.modified < modified }) ?? true { newest[id] = (modified, directory) }
            }
        }
        return try newest.sorted { $0.key < $1.key }.map { id, found in
            try repository(root, id: id, priority: enabled[id]?.priority ?? 99, directory: found.directory)
        }
    }

    /// Reads `repomd.xml`: where the primary and updateinfo metadata are. dnf fetches the zchunk form
    /// (`primary_zck`) where the repository offers it and librepo can read it (Fedora), the plain one elsewhere.
    private static func repository(
        _ root: HostRoot, id: String, priority: Int, directory: String
    ) throws -> DnfRepository {
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
            for kind in [type + "_zck", type] {
                guard let href = locations[kind], let base = href.split(separator: "/").last, !base.hasPrefix("."),
                    root.exists("\(directory)/repodata/\(base)")
                else { continue }
                return "\(directory)/repodata/\(base)"
            }
            return nil
        }
        // Without its primary metadata (dnf fetched repomd.xml and is still downloading, or was stopped) the
        // repository's offers are unknown: no answer rather than one without them.
        guard let primary = cachedFile("primary") else {
            throw ProbeError(
                "\(directory)/repodata has repomd.xml but not the primary metadata it names (an interrupted "
                    + "download? `dnf makecache` fetches it again)")
        }
        return DnfRepository(
            id: id, priority: priority, directory: directory, primary: primary, updateinfo: cachedFile("updateinfo"),
            published: primaryTimestamp)
    }
}
