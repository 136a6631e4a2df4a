import PostureModel
import PostureVerdict

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One verdict to store, with its change and SETs, if the stored one is still `expected`.
public struct VerdictSave: Sendable {
    public var verdict: StoredVerdict
    public var change: VerdictChange?
    public var outbox: [OutboxEntry]
    public var expected: VerdictPrecondition
    public init(_ verdict: StoredVerdict, change: VerdictChange?, outbox: [OutboxEntry], expected: VerdictPrecondition)
    {
        self.verdict = verdict
        self.change = change
        self.outbox = outbox
        self.expected = expected
    }
}

/// A device's newest accepted report, decoded, as the verdict service loads it (at start, for every active
/// device; after another collector's change, for one). Decoded in the store, not handed over as JSON to
/// be parsed again: composing and re-parsing schema 1's text was most of a large fleet's start-up.
public struct LatestReport: Sendable {
    public var deviceID: String
    public var issuedAt: Date
    public var attestation: AttestationPayload
}

/// One accepted report's journal event counts (JSON), for the signal window.
public struct SignalRow: Sendable {
    public var deviceID: String
    public var issuedAt: Date
    public var counts: String
}

/// A device's current verdict as stored: the verdict JSON and what identifies it.
public struct StoredVerdict: Sendable, Equatable {
    public var deviceID: String
    public var status: String
    public var version: String
    public var changedAt: Date
    public var verdict: String

    public init(deviceID: String, status: String, version: String, changedAt: Date, verdict: String) {
        self.deviceID = deviceID
        self.status = status
        self.version = version
        self.changedAt = changedAt
        self.verdict = verdict
    }
}

/// One change of a device's verdict: the audit trail of verdicts.
public struct VerdictChange: Sendable, Equatable, Codable {
    public var deviceID: String
    public var at: Date
    public var previousStatus: String?
    public var status: String
    /// What caused the re-evaluation: `attestation`, `policy <version>`, `quarantine by alice: …`, `time`.
    public var cause: String
    public var verdict: String

    public init(deviceID: String, at: Date, previousStatus: String?, status: String, cause: String, verdict: String) {
        self.deviceID = deviceID
        self.at = at
        self.previousStatus = previousStatus
        self.status = status
        self.cause = cause
        self.verdict = verdict
    }
}

/// An operator's action: who, when, what, on which device or target, and why.
public struct OperatorAction: Sendable, Equatable, Codable {
    public var id: Int64
    public var at: Date
    public var actor: String
    public var action: String
    public var deviceID: String?
    public var target: String?
    public var reason: String

    public init(
        id: Int64 = 0, at: Date, actor: String, action: String, deviceID: String?, target: String?, reason: String
    ) {
        self.id = id
        self.at = at
        self.actor = actor
        self.action = action
        self.deviceID = deviceID
        self.target = target
        self.reason = reason
    }
}

/// An API token for policy engines and operators: only its SHA-256 is stored.
public struct APITokenRecord: Sendable, Equatable, Codable {
    public var id: String
    public var hash: String
    public var name: String
    public var scopes: [String]
    public var createdAt: Date
    public var expiresAt: Date?
    public var revokedAt: Date?

    public init(
        id: String, hash: String, name: String, scopes: [String], createdAt: Date, expiresAt: Date?,
        revokedAt: Date? = nil
    ) {
        self.id = id
        self.hash = hash
        self.name = name
        self.scopes = scopes
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
    }

    public func isUsable(at now: Date) -> Bool { revokedAt == nil && (expiresAt.map { now < $0 } ?? true) }
}

/// A Shared Signals stream: a receiver, how it gets events (push to its URL, or poll), which events.
public struct StreamRecord: Sendable, Equatable, Codable {
    public var id: String
    public var audience: String
    /// `push` (RFC 8935) or `poll` (RFC 8936).
    public var deliveryMethod: String
    public var endpointURL: String?
    public var authorizationHeader: String?
    public var eventsRequested: [String]
    /// `RS256` (the interoperability profile's) or `ES256`.
    public var algorithm: String
    /// `enabled`, `paused` or `disabled` (SSF stream status); `deleted` streams are kept for the audit.
    public var status: String
    public var createdAt: Date
    /// The API token that created it: only that token's owner manages it.
    public var tokenID: String
    /// Why the status was last changed (SSF stream status `reason`), by the receiver or the transmitter.
    public var statusReason: String?
    /// The receiver's own words for the stream (SSF `description`).
    public var description: String?
    /// How a device is named in the stream's SETs: `iss_sub` (RFC 9493, the issuer and the device ID) or
    /// `uri` (the device's SPIFFE-style URI, what streams created before schema v9 had).
    public var subjectFormat: String

    public init(
        id: String, audience: String, deliveryMethod: String, endpointURL: String?, authorizationHeader: String?,
        eventsRequested: [String], algorithm: String, status: String, createdAt: Date, tokenID: String,
        statusReason: String? = nil, description: String? = nil, subjectFormat: String = "iss_sub"
    ) {
        self.statusReason = statusReason
        self.description = description
        self.subjectFormat = subjectFormat
        self.id = id
        self.audience = audience
        self.deliveryMethod = deliveryMethod
        self.endpointURL = endpointURL
        self.authorizationHeader = authorizationHeader
        self.eventsRequested = eventsRequested
        self.algorithm = algorithm
        self.status = status
        self.createdAt = createdAt
        self.tokenID = tokenID
    }
}

/// A signed Security Event Token waiting for (or past) delivery to one stream.
public struct OutboxEntry: Sendable, Equatable {
    public var id: Int64
    public var streamID: String
    public var jti: String
    public var setJWT: String
    public var createdAt: Date
    public var attempts: Int
    public var nextAttemptAt: Date
    public var deliveredAt: Date?

    public init(
        id: Int64 = 0, streamID: String, jti: String, setJWT: String, createdAt: Date, attempts: Int = 0,
        nextAttemptAt: Date, deliveredAt: Date? = nil
    ) {
        self.id = id
        self.streamID = streamID
        self.jti = jti
        self.setJWT = setJWT
        self.createdAt = createdAt
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.deliveredAt = deliveredAt
    }
}

extension StoredVerdict {
    /// The rules the verdict JSON lists as failing (`failing[].rule`), for the fleet index; none when the
    /// JSON is not a verdict.
    public var failingRules: Set<String> {
        struct Failing: Decodable {
            struct Rule: Decodable { var rule: String? }
            var failing: [Rule]?
        }
        let decoded = try? JSONDecoder().decode(Failing.self, from: Data(verdict.utf8))
        return Set(decoded?.failing?.compactMap(\.rule) ?? [])
    }
}
