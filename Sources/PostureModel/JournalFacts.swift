#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Security-relevant journal events after a cursor. The agent persists `cursor` only once the collector
/// has accepted the report that carried these events, so none is lost or counted twice.
public struct JournalFacts: Sendable, Codable, Equatable {
    /// What was read: `system journal`, a directory or files.
    public var journal: String
    /// The cursor the read started after, if any.
    public var afterCursor: String?
    /// Where reading started when no cursor was given (e.g. 24 hours before collection).
    public var since: Date?
    /// The cursor of the last entry read; pass it back as `afterCursor` next time. Equal to
    /// `afterCursor` when nothing new was found.
    public var cursor: String?
    /// Entries that matched a security-relevant source and were classified.
    public var entriesExamined: Int
    /// Every category, with zero where nothing happened.
    public var counts: [JournalEventCategory: Int]
    /// The notable events themselves, newest last, at most `notableLimit` of them.
    public var notable: [JournalEvent]
    /// Notable events left out because of the limit.
    public var notableOmitted: Int

    public init(
        journal: String, afterCursor: String?, since: Date?, cursor: String?, entriesExamined: Int,
        counts: [JournalEventCategory: Int], notable: [JournalEvent], notableOmitted: Int
    ) {
        self.journal = journal
        self.afterCursor = afterCursor
        self.since = since
        self.cursor = cursor
        self.entriesExamined = entriesExamined
        self.counts = counts
        self.notable = notable
        self.notableOmitted = notableOmitted
    }
}

public enum JournalEventCategory: String, Sendable, Codable, CaseIterable, CodingKeyRepresentable {
    /// sshd: `Failed password|publickey|… for USER from HOST`.
    case sshAuthFailure
    /// sshd: `Invalid user NAME from HOST`.
    case sshInvalidUser
    /// sudo: `N incorrect password attempts`.
    case sudoAuthFailure
    /// sudo: `user NOT in sudoers`, `command not allowed`.
    case sudoDenied
    /// sudo: a command run as root.
    case sudoToRoot
    /// kernel: `New USB device found`.
    case usbDeviceAdded
    /// systemd: a watched unit (firewall, audit, the agent) stopped.
    case securityUnitStopped
    /// systemd: a watched unit failed.
    case securityUnitFailed
    /// kernel: Oops, BUG, general protection fault.
    case kernelOops
    /// kernel: a user process segfaulted.
    case segfault
    /// systemd-logind: a new login session.
    case loginSessionStarted

    /// Counted but not attached one by one: routine on a busy host.
    public var isNotable: Bool { self != .loginSessionStarted }
}

public struct JournalEvent: Sendable, Codable, Equatable {
    public var category: JournalEventCategory
    public var time: Timestamp
    /// `_SYSTEMD_UNIT`, or the `UNIT` a systemd message is about.
    public var unit: String?
    public var identifier: String?
    public var message: String
    public var cursor: String

    public init(
        category: JournalEventCategory, time: Timestamp, unit: String?, identifier: String?, message: String,
        cursor: String
    ) {
        self.category = category
        self.time = time
        self.unit = unit
        self.identifier = identifier
        self.message = message
        self.cursor = cursor
    }
}
