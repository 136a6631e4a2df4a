import PostureLinux
import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Gathers one group of facts. A probe never throws and never crashes: what it cannot read it reports
/// as `unavailable` with the reason.
public protocol Probe: Sendable {
    associatedtype Output: Sendable
    func collect(in context: ProbeContext) -> Output
}

/// What every probe needs to know about this run.
public struct ProbeContext: Sendable {
    /// Where `/proc`, `/sys`, `/etc`, `/dev` and `/var` are read from: `/`, or a fixture tree.
    public var root: HostRoot
    /// The collection time; probes never read the clock themselves.
    public var now: Date
    public var journal: JournalOptions
    /// Since when each pending security update has been offered, as the agent remembered it from earlier
    /// reports (`PendingUpdate.key` → since). Empty for a one-off `postured probe`.
    public var pendingSince: [String: Date]

    public init(
        root: HostRoot = HostRoot(), now: Date, journal: JournalOptions = JournalOptions(),
        pendingSince: [String: Date] = [:]
    ) {
        self.root = root
        self.now = now
        self.journal = journal
        self.pendingSince = pendingSince
    }
}

public struct JournalOptions: Sendable {
    /// nil: the system journal below the context's root.
    public var source: JournalSource?
    /// Resume strictly after this cursor. When nil, read from `now - window`.
    public var afterCursor: String?
    public var window: Duration
    /// At most this many notable events are attached; the rest are only counted.
    public var notableLimit: Int
    /// Units whose stop or failure is a security signal.
    public var watchedUnits: Set<String>

    public static let defaultWatchedUnits: Set<String> = [
        "nftables.service", "iptables.service", "ip6tables.service", "netfilter-persistent.service",
        "ufw.service", "firewalld.service", "auditd.service", "apparmor.service", "postured.service",
    ]

    public init(
        source: JournalSource? = nil, afterCursor: String? = nil, window: Duration = .seconds(24 * 3600),
        notableLimit: Int = 100, watchedUnits: Set<String> = JournalOptions.defaultWatchedUnits
    ) {
        self.source = source
        self.afterCursor = afterCursor
        self.window = window
        self.notableLimit = notableLimit
        self.watchedUnits = watchedUnits
    }
}

extension Fact {
    /// Runs a read that may fail; a failure becomes `unavailable` with the error's words.
    static func reading(_ source: String, _ body: () throws -> Value) -> Fact<Value> {
        do {
            return .observed(try body(), source: source)
        } catch let error as SystemError {
            return .unavailable(reason: error.description, source: source)
        } catch let error as ProbeError {
            return .unavailable(reason: error.reason, source: source)
        } catch {
            return .unavailable(reason: "\(error)", source: source)
        }
    }
}

/// A probe's own reason for reporting a fact unavailable (the data was there but cannot be trusted).
struct ProbeError: Error {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}
