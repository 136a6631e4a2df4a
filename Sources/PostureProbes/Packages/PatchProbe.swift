import PostureLinux
import PostureModel
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Patch level: pending upgrades and security updates from dpkg's status and the apt lists on disk, and
/// whether the running kernel is the newest installed. Rules: `Sources/PostureProbes/Packages/README.md`.
public struct PatchProbe: Probe {
    public init() {}

    static let statusPath = "/var/lib/dpkg/status"
    static let listsDirectory = "/var/lib/apt/lists"

    public func collect(in context: ProbeContext) -> PatchFacts {
        PatchFacts(packages: packages(context), kernel: kernel(context.root))
    }

    private func packages(_ context: ProbeContext) -> Fact<PackageUpdates> {
        let root = context.root
        let source = "\(Self.statusPath), \(Self.listsDirectory)"
        guard root.exists(Self.statusPath) else {
            if root.exists("/var/lib/rpm") {
                return .unavailable(
                    reason: "an rpm system: this agent reads dpkg's database only (rpm and dnf are not read yet)",
                    source: "/var/lib/rpm")
            }
            return .unavailable(reason: "no package database (\(Self.statusPath) does not exist)", source: source)
        }
        return .reading(source) {
            var updates = try cachedDpkg(root)
            // What depends on the moment and on the agent's memory is applied to the cached answer.
            for index in updates.security.indices {
                var update = updates.security[index]
                update.since = min(update.since, context.now)
                if let seen = context.pendingSince[update.key] { update.since = min(seen, update.since) }
                updates.security[index] = update
            }
            updates.security.sort { ($0.since, $0.package) < ($1.since, $1.package) }
            updates.security = Array(updates.security.prefix(PackageUpdates.listedLimit))
            return updates
        }
    }

    /// The last answer for each root, kept while dpkg's status and the lists are the same files: reading
    /// Debian's 50 MB main list again every report would cost the agent far more than all other probes.
    private static let cache = Mutex<[String: (signature: [String: HostRoot.FileStatus], updates: PackageUpdates)]>(
        [:])

    /// Drops the kept answers, so the next collection reads every file (posture-bench's cold figure).
    public static func forgetCache() { cache.withLock { $0.removeAll() } }

    private func cachedDpkg(_ root: HostRoot) throws -> PackageUpdates {
        let names = (try? root.contentsOfDirectory(Self.listsDirectory)) ?? []
        var signature = [Self.statusPath: try root.status(Self.statusPath)]
        for name in names where Self.isPackagesList(name) || name.hasSuffix("Release") {
            signature[name] = try? root.status("\(Self.listsDirectory)/\(name)")
        }
        if let cached = Self.cache.withLock({ $0[root.path] }), cached.signature == signature { return cached.updates }
        let updates = try dpkg(root, names: names)
        Self.cache.withLock { $0[root.path] = (signature, updates) }
        return updates
    }

    /// Every pending security update with the date of the lists that offer it (`since` before the
    /// moment and the agent's memory are applied), all of them (the limit is applied after sorting).
    private func dpkg(_ root: HostRoot, names: [String]) throws -> PackageUpdates {
        let status = try DpkgStatus.read(root.hostPath(Self.statusPath))
        let installed = status.installed
        var releases: [AptRelease] = []
        var lists: [String] = []
        for name in names {
            if name.hasSuffix("_InRelease") || name.hasSuffix("_Release") {
                let prefix = String(name.dropLast(name.hasSuffix("_InRelease") ? 9 : 7))
                // An InRelease and a Release of one archive: the InRelease wins, as in apt.
                if name.hasSuffix("_Release"), names.contains(prefix + "InRelease") { continue }
                let text = try root.readText("\(Self.listsDirectory)/\(name)", limit: 16 << 20)
                releases.append(AptRelease.parse(text, prefix: prefix))
            } else if Self.isPackagesList(name) {
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
                    "\(Self.listsDirectory)/\(list) is compressed in a form the agent does not read "
                        + "(Acquire::GzipIndexes; it reads plain and .lz4 lists)")
            }
            try offers.read(root.hostPath("\(Self.listsDirectory)/\(list)"), release: index, status: status)
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
    private func lastChange(_ root: HostRoot) -> Date? {
        let directory = "/var/lib/dpkg/info"
        guard let names = try? root.contentsOfDirectory(directory) else { return nil }
        let newest = names.lazy.filter { $0.hasSuffix(".list") }
            .compactMap { try? root.modificationSeconds("\(directory)/\($0)") }.max()
        return newest.map { Date(timeIntervalSince1970: Double($0)) }
    }

    func kernel(_ root: HostRoot) -> Fact<RunningKernel> {
        .reading("/proc/sys/kernel/osrelease, /lib/modules") {
            let running = try root.readAttribute("/proc/sys/kernel/osrelease")
            guard let newest = KernelRelease.newestInstalled(root, like: running) else {
                throw ProbeError(
                    "no kernel of the running one's flavour (\(running)) with modules under /lib/modules "
                        + "(a container runs its host's kernel, which the host updates)")
            }
            let current = !KernelRelease.isOrderedBefore(running, newest)
            return RunningKernel(running: running, newestInstalled: current ? running : newest, current: current)
        }
    }
}
