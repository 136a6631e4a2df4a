import PostureLinux
import PostureModel
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Patch level: pending upgrades and security updates from dpkg's status and the apt lists on disk (Debian,
/// Ubuntu) or from rpm's database and dnf's metadata cache (Fedora, RHEL), and whether the running kernel is
/// the newest installed. Rules: `Sources/PostureProbes/Packages/README.md`.
public struct PatchProbe: Probe {
    public init() {}

    public func collect(in context: ProbeContext) -> PatchFacts {
        PatchFacts(packages: packages(context), kernel: kernel(context.root))
    }

    private func packages(_ context: ProbeContext) -> Fact<PackageUpdates> {
        let root = context.root
        if DpkgPatchLevel.manages(root) {
            return .reading(DpkgPatchLevel.source) {
                let signature = try DpkgPatchLevel.signature(root)
                return applyMoment(try cached(root, signature) { try DpkgPatchLevel.read(root) }, context)
            }
        }
        switch RpmDatabase.locate(root) {
        case .sqlite(let path):
            return .reading("\(path), \(DnfRepository.cacheDirectories.joined(separator: ", "))") {
                let signature = RpmPatchLevel.signature(root, database: path)
                return applyMoment(
                    try cached(root, signature) { try RpmPatchLevel.read(root, database: path) }, context)
            }
        case .unsupported(let path, let reason):
            return .unavailable(reason: reason, source: path)
        case .none:
            return .unavailable(
                reason: "no package database (neither \(DpkgPatchLevel.statusPath) nor rpm's rpmdb.sqlite under "
                    + "\(RpmDatabase.directories.joined(separator: " or ")) exists)",
                source: DpkgPatchLevel.statusPath)
        }
    }

    /// What depends on the moment and on the agent's memory, applied to the cached answer: no wait starts in
    /// the future, and a wait the agent saw begin earlier counts from then.
    private func applyMoment(_ cached: PackageUpdates, _ context: ProbeContext) -> PackageUpdates {
        var updates = cached
        for index in updates.security.indices {
            var update = updates.security[index]
            update.since = min(update.since, context.now)
            if let seen = context.pendingSince[update.key] { update.since = min(seen, update.since) }
            updates.security[index] = update
        }
        updates.security.sort { ($0.since, $0.package) < ($1.since, $1.package) }
        updates.security = Array(updates.security.prefix(PackageUpdates.reportedLimit))
        return updates
    }

    /// The last answer for each root, kept while the package database and the lists or metadata are the
    /// same files: reading Debian's 50 MB main list (or Fedora's primary metadata) again every report would
    /// cost the agent far more than all other probes.
    private static let cache = Mutex<[String: (signature: [String: HostRoot.FileStatus], updates: PackageUpdates)]>(
        [:])

    /// Drops the kept answers, so the next collection reads every file (posture-bench's cold figure).
    public static func forgetCache() { cache.withLock { $0.removeAll() } }

    /// The kept answer while `signature` is unchanged; otherwise `read()`, kept. Every pending security update
    /// is in it, with the date it was offered from (the moment and the limit are applied by the caller).
    private func cached(
        _ root: HostRoot, _ signature: [String: HostRoot.FileStatus], read: () throws -> PackageUpdates
    ) throws -> PackageUpdates {
        if let cached = Self.cache.withLock({ $0[root.path] }), cached.signature == signature { return cached.updates }
        let updates = try read()
        Self.cache.withLock { $0[root.path] = (signature, updates) }
        return updates
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
