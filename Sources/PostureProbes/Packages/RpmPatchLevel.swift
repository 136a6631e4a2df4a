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
        var paths = RpmDatabase.signaturePaths(database) + DnfConfiguration.files(root)
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
        let enabledRepositories = DnfConfiguration.read(root)
        let repositories = try DnfRepository.cached(root, enabled: enabledRepositories)
        guard !repositories.isEmpty else {
            let enabled = enabledRepositories.keys.sorted()
            throw ProbeError(
                enabled.isEmpty
                    ? "no enabled dnf repository (no [repo] in \(DnfConfiguration.directories.joined(separator: ", ")) is enabled)"
                    : "no dnf metadata cached for the enabled repositories (\(enabled.joined(separator: ", "))) under "
                        + "\(DnfRepository.cacheDirectories.joined(separator: " or ")): `dnf makecache` fetches it "
                        + "(dnf-makecache.timer does daily on Fedora and RHEL)")
        }
        var offers: [String: [(package: RepoPackage, priority: Int)]] = [:]
        var fixes: [String: [(package: RepoPackage, advisory: RepoAdvisory, repository: DnfRepository)]] = [:]
        for repository in repositories {
            for path in [repository.primary] + (repository.updateinfo.map { [$0] } ?? [])
            where !IndexFileReader.canRead(path) {
                throw ProbeError(
                    "\(path) is compressed in a form the agent does not read (bzip2; it reads plain, .gz, .xz, .zst and .zck)"
                )
            }
            try RepoXMLReader.primary(root.hostPath(repository.primary), names: names) { package in
                offers[package.name, default: []].append((package, repository.priority))
            }
            guard let updateinfo = repository.updateinfo else { continue }
            try RepoXMLReader.updateinfo(root.hostPath(updateinfo), type: "security") { advisory in
                for package in advisory.packages where names.contains(package.name) {
                    fixes[package.name, default: []].append((package, advisory, repository))
                }
            }
        }
        // dnf's priorities: of a name offered by several repositories, only the best priority's versions count;
        // dnf 5 weighs them per name and architecture (libdnf5's filter_priority), dnf 4 per name.
        let perArchitecture = repositories.contains { $0.directory.hasPrefix("/var/cache/libdnf5/") }
        for (name, list) in offers {
            var best: [String: Int] = [:]
            for offer in list {
                let group = perArchitecture ? offer.package.architecture : ""
                best[group] = min(best[group] ?? offer.priority, offer.priority)
            }
            offers[name] = list.filter { $0.priority == best[perArchitecture ? $0.package.architecture : ""] }
        }
        // The architecture dnf would move a noarch package to: the host's own, the commonest installed.
        let native = Dictionary(grouping: installed.filter { $0.architecture != "noarch" }, by: \.architecture)
            .max { ($0.value.count, $1.key) < ($1.value.count, $0.key) }?.key
        var pending = 0
        var security: [PendingUpdate] = []
        for (_, package) in newest.sorted(by: { $0.key < $1.key }) {
            // The same architecture, or a move between noarch and the host's (which dnf offers as an upgrade).
            let architectures: Set<String> =
                package.architecture == "noarch"
                ? Set(["noarch"] + (native.map { [$0] } ?? [])) : [package.architecture, "noarch"]
            guard
                let candidate = (offers[package.name] ?? []).map(\.package)
                    .filter({ architectures.contains($0.architecture) }).map(\.evr).max(),
                package.evr < candidate
            else { continue }
            pending += 1
            // The fix that has waited longest: the earliest advisory above the installed version that the
            // candidate includes.
            let applicable = (fixes[package.name] ?? []).filter {
                architectures.contains($0.package.architecture) && package.evr < $0.package.evr
                    && $0.package.evr <= candidate
            }
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
