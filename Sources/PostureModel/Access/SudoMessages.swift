#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The agent asks the collector for a sudo grant (`POST /v1/access/sudo`, mutual TLS) on behalf of a
/// local user it identified by SO_PEERCRED; the collector decides by the grant and the device's verdict.
public struct SudoGrantRequest: Sendable, Codable, Equatable {
    public var grant: String
    public var user: String
    public var groups: [String]
    /// Shorter than the grant's longest, e.g. `30m`; nil for the grant's.
    public var duration: String?
    /// Why, in the user's words (kept in the audit trail; at most 500 characters).
    public var reason: String

    public init(grant: String, user: String, groups: [String], duration: String?, reason: String) {
        self.grant = grant
        self.user = user
        self.groups = groups
        self.duration = duration
        self.reason = reason
    }
}

/// One sudo grant of this device as the collector sees it (`GET /v1/access/sudo` lists them).
public struct SudoGrantState: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable {
        /// Waiting for an operator (`posturectl access approve|deny ID`).
        case pending
        /// In force until `validUntil`: the agent keeps a sudoers drop-in for it.
        case active
        case denied
        /// Ended by an operator, or by the device turning non-compliant.
        case revoked
        case expired
    }

    public var id: Int64
    public var grant: String
    public var user: String
    public var status: Status
    /// The sudo role: absolute command paths with arguments, or `ALL`.
    public var commands: [String]
    public var requestedAt: Date
    /// How long it lasts once granted, in seconds.
    public var seconds: Int
    public var validFrom: Date?
    public var validUntil: Date?
    public var reason: String

    public init(
        id: Int64, grant: String, user: String, status: Status, commands: [String], requestedAt: Date, seconds: Int,
        validFrom: Date?, validUntil: Date?, reason: String
    ) {
        self.id = id
        self.grant = grant
        self.user = user
        self.status = status
        self.commands = commands
        self.requestedAt = requestedAt
        self.seconds = seconds
        self.validFrom = validFrom
        self.validUntil = validUntil
        self.reason = reason
    }
}

extension SudoGrantState {
    /// What may go into a sudoers Cmnd list without sudoers syntax of its own: `ALL`, or an absolute path
    /// with plain arguments (no `,` `:` `=` `\\` `#` `"` and no control character, so no second rule).
    /// The policy parser holds grants to it, and the agent holds what the collector sends to it again.
    public static func isSudoersCommand(_ command: String) -> Bool {
        command == "ALL"
            || (command.hasPrefix("/") && command.utf8.count <= 1024
                && !command.unicodeScalars.contains {
                    ",:=\\#\"".unicodeScalars.contains($0) || $0.properties.generalCategory == .control
                        || $0.properties.isWhitespace && $0 != " "
                })
    }
}

/// What `posturectl access request|status` sends the local agent (one JSON line). The user is the
/// socket's peer; nothing here names one.
public struct LocalSudoRequest: Sendable, Codable, Equatable {
    public enum Action: String, Sendable, Codable {
        case sudoRequest = "sudo-request"
        case sudoStatus = "sudo-status"
    }

    public var action: Action
    public var grant: String?
    public var duration: String?
    public var reason: String?

    public init(action: Action, grant: String? = nil, duration: String? = nil, reason: String? = nil) {
        self.action = action
        self.grant = grant
        self.duration = duration
        self.reason = reason
    }
}
