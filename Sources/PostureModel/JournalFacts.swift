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
    /// Notable events left out, because of the limit or of the size budget.
    public var notableOmitted: Int
    /// Why `afterCursor` was not used, when it named no entry of this journal (another journal's, or
    /// one since vacuumed): reading then started at `since` instead. nil when the cursor was used.
    public var cursorReset: String?
    /// Attached events whose message, unit or identifier was cut to its size limit.
    public var messagesTruncated: Int
    /// The part of `notableOmitted` left out because the attached text reached its size budget.
    public var notableDroppedForSize: Int

    public init(
        journal: String, afterCursor: String?, since: Date?, cursor: String?, entriesExamined: Int,
        counts: [JournalEventCategory: Int], notable: [JournalEvent], notableOmitted: Int,
        cursorReset: String? = nil, messagesTruncated: Int = 0, notableDroppedForSize: Int = 0
    ) {
        self.journal = journal
        self.afterCursor = afterCursor
        self.since = since
        self.cursor = cursor
        self.entriesExamined = entriesExamined
        self.counts = counts
        self.notable = notable
        self.notableOmitted = notableOmitted
        self.cursorReset = cursorReset
        self.messagesTruncated = messagesTruncated
        self.notableDroppedForSize = notableDroppedForSize
    }

    private enum CodingKeys: String, CodingKey {
        case journal, afterCursor, since, cursor, entriesExamined, counts, notable, notableOmitted
        case cursorReset, messagesTruncated, notableDroppedForSize
    }

    /// Reports from agents before `cursorReset`, `messagesTruncated` and `notableDroppedForSize` still
    /// decode: absent means none.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        journal = try container.decode(String.self, forKey: .journal)
        afterCursor = try container.decodeIfPresent(String.self, forKey: .afterCursor)
        since = try container.decodeIfPresent(Date.self, forKey: .since)
        cursor = try container.decodeIfPresent(String.self, forKey: .cursor)
        entriesExamined = try container.decode(Int.self, forKey: .entriesExamined)
        counts = try container.decode([JournalEventCategory: Int].self, forKey: .counts)
        notable = try container.decode([JournalEvent].self, forKey: .notable)
        notableOmitted = try container.decode(Int.self, forKey: .notableOmitted)
        cursorReset = try container.decodeIfPresent(String.self, forKey: .cursorReset)
        messagesTruncated = try container.decodeIfPresent(Int.self, forKey: .messagesTruncated) ?? 0
        notableDroppedForSize = try container.decodeIfPresent(Int.self, forKey: .notableDroppedForSize) ?? 0
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
