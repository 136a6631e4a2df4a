#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Patch level: what the package manager has installed against what its package lists offer, and
/// whether the running kernel is the newest installed. Read without network access (no `apt-get update`):
/// the answer is as fresh as the lists on disk, which `listsUpdatedAt` says.
public struct PatchFacts: Sendable, Codable, Equatable {
    public var packages: Fact<PackageUpdates>
    public var kernel: Fact<RunningKernel>

    public init(packages: Fact<PackageUpdates>, kernel: Fact<RunningKernel>) {
        self.packages = packages
        self.kernel = kernel
    }
}

public struct PackageUpdates: Sendable, Codable, Equatable {
    /// `dpkg` (Debian, Ubuntu) or `rpm` (Fedora, RHEL: with dnf's metadata cache).
    public var manager: String
    public var installed: Int
    /// The newest `Date` of the package lists' Release files (dpkg), or of the cached repositories' primary
    /// metadata (rpm): when they were last published, as far as this host knows (nil: no lists at all, so
    /// nothing can be pending).
    public var listsUpdatedAt: Date?
    /// Installed packages whose candidate version (as apt picks it) is newer: `apt list --upgradable`, or
    /// `dnf check-update` from the cache.
    public var pending: Int
    /// Of those, the ones whose candidate comes from a security archive (dpkg), or includes a security
    /// advisory's fix (rpm: `dnf updateinfo list --security`).
    public var pendingSecurity: Int
    /// The pending security updates, oldest first, at most `PackageUpdates.reportedLimit` from this agent.
    public var security: [PendingUpdate]
    /// The newest install or upgrade of any package (dpkg's `.list` files, rpm's install times), nil when none
    /// is recorded.
    public var lastChange: Date?
    /// The security archives among the lists (`Debian-Security bookworm-security`), or the enabled dnf
    /// repositories with advisories (`updates`). None: the host is not told of security fixes at all, whatever
    /// `pendingSecurity` says.
    public var securityArchives: [String]

    /// What the collector accepts (agents before this one listed up to 1,024).
    public static let listedLimit = 1024
    /// What the agent lists: the oldest 64, which deadlines look at (`pendingSecurity` counts them all). A stale
    /// host can have hundreds pending; listing them all made its report 30 KB, and a collector decodes every
    /// device's newest report when it starts.
    public static let reportedLimit = 64

    public init(
        manager: String, installed: Int, listsUpdatedAt: Date?, pending: Int, pendingSecurity: Int,
        security: [PendingUpdate], lastChange: Date?, securityArchives: [String]
    ) {
        self.manager = manager
        self.installed = installed
        self.listsUpdatedAt = listsUpdatedAt
        self.pending = pending
        self.pendingSecurity = pendingSecurity
        self.security = security
        self.lastChange = lastChange
        self.securityArchives = securityArchives
    }

    /// Since when the oldest pending security update has been waiting.
    public var oldestSecuritySince: Date? { security.map(\.since).min() }
}

/// One installed package for which a security archive offers a fix: `candidate` is what apt would install
/// (it may be a newer ordinary update that includes the fix), `origin` the security archive of the fix.
public struct PendingUpdate: Sendable, Codable, Equatable {
    public var package: String
    public var architecture: String
    public var installed: String
    public var candidate: String
    /// The archive it comes from, as apt names it: `Debian-Security bookworm-security`; on rpm systems the
    /// advisory and its repository: `FEDORA-2026-1a2b3c4d5e (updates)`.
    public var origin: String
    /// Since when a security fix has been offered for the installed version: when the agent first saw one in
    /// its lists, or the Date of the lists that offer it now if that is earlier. Debian's lists date no package,
    /// so this is the latest it can have been published; the real wait is at least as long. On rpm systems, the
    /// issue date of the earliest advisory whose fix the candidate includes.
    public var since: Date

    public init(
        package: String, architecture: String, installed: String, candidate: String, origin: String, since: Date
    ) {
        self.package = package
        self.architecture = architecture
        self.installed = installed
        self.candidate = candidate
        self.origin = origin
        self.since = since
    }

    /// What the agent remembers it by between reports: the installed version, so a newer fix that
    /// supersedes a pending one does not restart the wait; installing any update ends it.
    public var key: String { "\(package):\(architecture)=\(installed)" }
}

public struct RunningKernel: Sendable, Codable, Equatable {
    /// `uname -r`.
    public var running: String
    /// The newest kernel with modules under `/lib/modules` (what the next boot would most likely run).
    public var newestInstalled: String
    /// The running kernel is the newest installed: its fixes are in effect.
    public var current: Bool

    public init(running: String, newestInstalled: String, current: Bool) {
        self.running = running
        self.newestInstalled = newestInstalled
        self.current = current
    }
}
