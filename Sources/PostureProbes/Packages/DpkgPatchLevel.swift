import PostureLinux
import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Patch level of a Debian or Ubuntu host: dpkg's status against the apt lists on disk.
enum DpkgPatchLevel {
    static let statusPath = "/var/lib/dpkg/status"
    static let listsDirectory = "/var/lib/apt/lists"
    static let source = "\(statusPath), \(listsDirectory)"

    /// Whether dpkg is this host's package manager: its status exists and is not the empty one Fedora's `dpkg`
    /// package installs next to rpm's database.
    static func manages(_ root: HostRoot) -> Bool {
        guard let status = try? root.status(statusPath) else { return false }
        return status.size > 0 || RpmDatabase.locate(root) == .none
    }

    /// The files whose change means the answer may change: dpkg's status, every list and Release file.
    static func signature(_ root: HostRoot) throws -> [String: HostRoot.FileStatus] {
        let names = (try? root.contentsOfDirectory(listsDirectory)) ?? []
        var signature = [statusPath: try root.status(statusPath)]
        for name in names where isPackagesList(name) || name.hasSuffix("Release") {
            signature[name] = try? root.status("\(listsDirectory)/\(name)")
        }
        return signature
    }

    /// Every pending security update with the date of the lists that offer it (`since` before the
    /// moment and the agent's memory are applied), all of them (the limit is applied after sorting).
    static func read(_ root: HostRoot) throws -> PackageUpdates {
        let names = (try? root.contentsOfDirectory(listsDirectory)) ?? []
        let status = try DpkgStatus.read(root.hostPath(statusPath))
        let installed = status.installed
        var releases: [AptRelease] = []
        var lists: [String] = []
        for name in names {
            if name.hasSuffix("_InRelease") || name.hasSuffix("_Release") {
                let prefix = String(name.dropLast(name.hasSuffix("_InRelease") ? 9 : 7))
                // An InRelease and a Release of one archive: the InRelease wins, as in apt.
                if name.hasSuffix("_Release"), names.contains(prefix + "InRelease") { continue }
                let text = try root.readText("\(listsDirectory)/\(name)", limit: 16 << 20)
                releases.append(AptRelease.parse(text, prefix: prefix))
            } else if isPackagesList(name) {
                lists.append(name)
            }
        }
        var offers = AptOffers()
        for list in lists {
            // The archive whose Release names this list: the longest prefix (flat and nested repositories).
            guard
                let index = releases.indices.filter({ list.hasPrefix(releases[$0].prefix) })
                    .max(by: { releases[$0].prefix.count < releases[$1].prefix.count })
            else { continue }
            guard IndexFileReader.canRead(list) else {
                throw ProbeError(
                    "\(listsDirectory)/\(list) is compressed in a form the agent does not read "
                        + "(bzip2; it reads plain, .lz4, .gz, .xz and .zst lists)")
            }
            try offers.read(root.hostPath("\(listsDirectory)/\(list)"), release: index, status: status)
        }
        var pending = 0
        var security: [PendingUpdate] = []
        for (key, package) in installed.sorted(by: { $0.key < $1.key }) {
            let version = package.version
            guard let candidate = offers.candidate(key, installed: version, releases: releases),
                DebianVersion.compare(candidate.version, version) > 0
            else { continue }
            pending += 1
            guard
                let fix = offers.securityFix(key, installed: version, candidate: candidate.version, releases: releases)
            else { continue }
            // Lists without a date: the moment of collection stands in (applied by the caller).
            security.append(
                PendingUpdate(
                    package: package.name, architecture: package.architecture, installed: version,
                    candidate: candidate.version, origin: fix.archive.name, since: fix.archive.date ?? .distantFuture))
        }
        return PackageUpdates(
            manager: "dpkg", installed: installed.count, listsUpdatedAt: releases.compactMap(\.date).max(),
            pending: pending, pendingSecurity: security.count, security: security, lastChange: lastChange(root),
            securityArchives: Array(Set(releases.filter(\.isSecurity).map(\.name))).sorted())
    }

    /// A binary package list, plain or compressed (`..._binary-amd64_Packages.lz4`, or a flat repository's).
    static func isPackagesList(_ name: String) -> Bool {
        var base = Substring(name)
        for suffix in IndexFileReader.compressions where base.hasSuffix(suffix) {
            base = base.dropLast(suffix.count)
        }
        return base.hasSuffix("_Packages")
    }

    /// dpkg rewrites a package's `.list` file whenever it installs or upgrades it.
    private static func lastChange(_ root: HostRoot) -> Date? {
        let directory = "/var/lib/dpkg/info"
        guard let names = try? root.contentsOfDirectory(directory) else { return nil }
        let newest = names.lazy.filter { $0.hasSuffix(".list") }
            .compactMap { try? root.modificationSeconds("\(directory)/\($0)") }.max()
        return newest.map { Date(timeIntervalSince1970: Double($0)) }
    }
}
