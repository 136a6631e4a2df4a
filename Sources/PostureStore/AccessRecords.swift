#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One just-in-time grant as stored: an SSH certificate (its serial is `id`) or a sudo role.
public struct AccessGrantRecord: Sendable, Codable, Equatable {
    public var id: Int64
    public var deviceID: String
    public var user: String
    public var grant: String
    /// `ssh` or `sudo`.
    public var kind: String
    /// `active`, `revoked` (by an operator), or what later work adds; expiry is `validUntil` passing.
    public var status: String
    public var requestedAt: Date
    public var validFrom: Date?
    public var validUntil: Date?
    /// What was granted, as JSON (principals and key fingerprint, or the sudo role).
    public var detail: String

    public init(
        id: Int64 = 0, deviceID: String, user: String, grant: String, kind: String, status: String, requestedAt: Date,
        validFrom: Date?, validUntil: Date?, detail: String
    ) {
        self.id = id
        self.deviceID = deviceID
        self.user = user
        self.grant = grant
        self.kind = kind
        self.status = status
        self.requestedAt = requestedAt
        self.validFrom = validFrom
        self.validUntil = validUntil
        self.detail = detail
    }
}

/// One thing that happened to access (requested, issued, refused, revoked...): append-only, chained
/// into the audit trail.
public struct AccessEvent: Sendable, Codable, Equatable {
    public var at: Date
    public var deviceID: String
    public var user: String
    public var grant: String
    public var grantID: Int64?
    /// e.g. `ssh-certificate-issued`, `refused`.
    public var event: String
    /// Who caused it: `device:<id>` for a request, `operator:<name>`, `collector`.
    public var actor: String
    /// The reason or what was granted, in words or JSON.
    public var detail: String

    public init(
        at: Date, deviceID: String, user: String, grant: String, grantID: Int64? = nil, event: String, actor: String,
        detail: String
    ) {
        self.at = at
        self.deviceID = deviceID
        self.user = user
        self.grant = grant
        self.grantID = grantID
        self.event = event
        self.actor = actor
        self.detail = detail
    }
}

/// Grants, their events, and what a KRL must list.
public protocol AccessStore: Sendable {
    /// Stores the grant and its event in one transaction; returns the grant's id (an SSH certificate's
    /// serial, unique across the collectors of a shared store).
    func recordGrant(_ grant: AccessGrantRecord, event: AccessEvent) async throws -> Int64
    func recordAccessEvent(_ event: AccessEvent) async throws
    /// Newest first; nil device: the fleet's; nil user: every user's.
    func accessGrants(deviceID: String?, user: String?, limit: Int) async throws -> [AccessGrantRecord]
    /// Newest first; nil device: the fleet's; nil user: every user's.
    func accessEvents(deviceID: String?, user: String?, limit: Int) async throws -> [AccessEvent]
    /// Revokes an active grant, recording who and why in the same transaction; false when no active
    /// grant has this id.
    func revokeGrant(id: Int64, actor: String, reason: String, at: Date) async throws -> Bool
    func accessGrant(id: Int64) async throws -> AccessGrantRecord?
    /// Moves a grant from one status to another (pending to active or denied, active to expired...),
    /// setting its validity when given and appending the event, in one transaction; false when the grant
    /// is not (or no longer) in `from`: of two collectors deciding at once, one wins.
    func transitionGrant(
        id: Int64, from: String, to: String, validFrom: Date?, validUntil: Date?, event: AccessEvent
    ) async throws -> Bool
    /// Serials of SSH certificates still within their validity whose grant was revoked or whose device is
    /// not compliant now: what target hosts' sshd must refuse before the certificates expire.
    func revokedSSHSerials(now: Date) async throws -> [Int64]
}

extension AccessStore {
    public func accessGrants(deviceID: String?, limit: Int) async throws -> [AccessGrantRecord] {
        try await accessGrants(deviceID: deviceID, user: nil, limit: limit)
    }

    public func accessEvents(deviceID: String?, limit: Int) async throws -> [AccessEvent] {
        try await accessEvents(deviceID: deviceID, user: nil, limit: limit)
    }
}
