import PostureLinux
import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Patch level of a Fedora or RHEL host: rpm's database against what dnf last fetched for the enabled
/// repositories (`dnf check-update` and `dnf updateinfo list --security`, answered from the cache alone).
enum RpmPatchLevel {
    /// The files whose change means the answer may change: the database, the `.repo` files, and each cached
    /// repository's `repomd.xml` (dnf rewrites it whenever it fetches new metadata).
    static func signature(_ root: HostRoot, database: String) -> [String: HostRoot.FileStatus] {
        var paths = RpmDatabase.signaturePaths(database) + DnfRepository.enabledIDs(root).files
        for base in DnfRepository.cacheDirectories {
            for name in (try? root.contentsOfDirectory(base)) ?? [] {
                paths.append("\(base)/\(name)/repodata/repomd.xml")
            }
        }
        var signature: [String: HostRoot.FileStatus] = [:]
        for path in paths { signature[path] = try? root.status(path) }
        return signature
    }

    /// Every pending update and security fix; `since` of each fix is its advisory's issue date (the moment and
    /// the agent's memory are applied by the caller).
    static func read(_ root: HostRoot, database: String) throws -> PackageUpdates {
        let installed = try RpmDatabase.cachedRead(root, path: database).installed
        // dnf compares an installed name and architecture with its newest installed version (several kernels).
        var newest: [String: RpmHeader] = [:]
        for package in installed
        where newest[key(package.name, package.architecture)].map({ $0.evr < package.evr }) ?? true {
            newest[key(package.name, package.architecture)] = package
        }
        let names = Set(installed.map(\.name))
        let enabled = DnfRepository.enabledIDs(root).ids
        let repositories = try DnfRepository.cached(root, enabled: enabled)
        guard !repositories.isEmpty else {
            throw ProbeError(
                enabled.isEmpty
                    ? "no enabled dnf repository (no [repo] in \(DnfRepository.configurationDirectories.joined(separator: ", ")) is enabled)"
                    : "no dnf metadata cached for the enabled repositories (\(enabled.sorted().joined(separator: ", "))) under "
                        + "\(DnfRepository.cacheDirectories.joined(separator: " or ")): `dnf makecache` fetches it "
                        + "(dnf-makecache.timer does daily on Fedora and RHEL)")
        }
        var offers: [String: RpmEVR] = [:]
        var fixes: [String: [(evr: RpmEVR, advisory: RepoAdvisory, repository: DnfRepository)]] = [:]
        for repository in repositories {
            for path in [repository.primary] + (repository.updateinfo.map { [$0] } ?? [])
            where !IndexFileReader.canRead(path) {
                throw ProbeError(
                    "\(path) is compressed in a form the agent does not read (bzip2; it reads plain, .gz, .xz and .zst)"
                )
            }
            try RepoXMLReader.primary(root.hostPath(repository.primary), names: names) { package in
                let key = key(package.name, package.architecture)
                if offers[key].map({ $0 < package.evr }) ?? true { offers[key] = package.evr }
            }
            guard let updateinfo = repository.updateinfo else { continue }
            try RepoXMLReader.updateinfo(root.hostPath(updateinfo), type: "security") { advisory in
                for package in advisory.packages where names.contains(package.name) {
                    fixes[key(package.name, package.architecture), default: []].append(
                        (package.evr, advisory, repository))
                }
            }
        }
        var pending = 0
        var security: [PendingUpdate] = []
        for (key, package) in newest.sorted(by: { $0.key < $1.key }) {
            // The same architecture, or a move between noarch and an architecture (which dnf also offers).
            let alternative = package.architecture == "noarch" ? nil : offers[Self.key(package.name, "noarch")]
            guard let candidate = offers[key] ?? alternative, package.evr < candidate else { continue }
            pending += 1
            // The fix that has waited longest: the earliest advisory above the installed version that the
            // candidate includes.
            let applicable = (fixes[key] ?? []).filter { package.evr < $0.evr && $0.evr <= candidate }
            guard
                let fix = applicable.min(by: {
                    ($0.advisory.issued ?? .distantFuture) < ($1.advisory.issued ?? .distantFuture)
                })
            else { continue }
            security.append(
                PendingUpdate(
                    package: package.name, architecture: package.architecture, installed: package.evr.description,
                    candidate: candidate.description, origin: "\(fix.advisory.id) (\(fix.repository.id))",
                    since: fix.advisory.issued ?? fix.repository.published ?? .distantFuture))
        }
        let lastChange = installed.compactMap(\.installTime).max().map { Date(timeIntervalSince1970: Double($0)) }
        return PackageUpdates(
            manager: "rpm", installed: installed.count, listsUpdatedAt: repositories.compactMap(\.published).max(),
            pending: pending, pendingSecurity: security.count, security: security, lastChange: lastChange,
            securityArchives: repositories.filter { $0.updateinfo != nil }.map(\.id).sorted())
    }

    private static func key(_ name: String, _ architecture: String) -> String { "\(name).\(architecture)" }
}
