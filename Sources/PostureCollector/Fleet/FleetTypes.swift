import PostureModel
import PostureStore
import PostureVerdict

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What `FleetOperations` takes and answers. The API's handlers convert them to and from the types generated
/// from openapi.yaml (`PostureAPI`), which must decode them: a drift between the two fails the request.
public struct DeviceDetail: Codable, Sendable {
    public struct Change: Codable, Sendable {
        public var at: Date
        public var previousStatus: String?
        public var status: String
        public var cause: String
    }

    public struct Certificate: Codable, Sendable {
        public var serial: String
        public var notBefore: Date
        public var notAfter: Date
    }

    public var device: FleetDevice
    public var verdict: Verdict?
    /// The newest accepted report's facts.
    public var report: PostureReport?
    public var reportIssuedAt: Date?
    /// Newest first.
    public var verdictChanges: [Change]
    /// Newest first, each with its JWS for re-verification against the device certificate.
    public var attestations: [StoredAttestation]
    /// What the agent reported doing (`enforcement.*` events), newest first.
    public var enforcement: [SecurityEvent]
    /// Refused attestations and other security events about the device, newest first.
    public var refusals: [SecurityEvent]
    public var certificates: [Certificate]
    /// Where the device key lives, as enrollment proved it.
    public var key: KeyInfo
    /// What booted, for a TPM device with a verified quote.
    public var boot: BootInfo?
    /// Its CISA maturity stage and what the next one needs (nil from the offline tool, and for a revoked
    /// device).
    public var maturity: MaturityAssessment?

    public struct BootInfo: Codable, Sendable {
        public var pcrs: [String]
        public var baselineRecorded: Bool
        public var changedPCRs: [Int]
        /// `replayed`, `absent` or `invalid`.
        public var eventLog: String
        public var eventLogDetail: String?
        public var secureBoot: Bool?

        init(_ boot: MeasuredBoot, baseline: [String]?) {
            pcrs = boot.pcrs.keys.sorted().compactMap { boot.pcrs[$0] }
            baselineRecorded = baseline != nil
            changedPCRs = baseline.map { boot.changed(from: MeasuredBoot.pcrMap($0)) } ?? []
            switch boot.log {
            case .replayed(let events, let secureBoot, let problem):
                eventLog = "replayed"
                eventLogDetail = "\(events) events" + (problem.map { "; Secure Boot unreadable: \($0)" } ?? "")
                self.secureBoot = problem == nil ? secureBoot : nil
            case .absent(let why):
                eventLog = "absent"
                eventLogDetail = why
            case .invalid(let why):
                eventLog = "invalid"
                eventLogDetail = why
            }
        }
    }

    public struct KeyInfo: Codable, Sendable {
        /// `software` or `tpm`.
        public var protection: String
        /// The TPM's endorsement certificate, SHA-256 (hex), when the key is in a TPM.
        public var endorsementFingerprint: String?
        /// The TPM's firmware version (hex), as its Certify at enrollment said.
        public var tpmFirmware: String?

        public init(protection: String, endorsementFingerprint: String? = nil, tpmFirmware: String? = nil) {
            self.protection = protection
            self.endorsementFingerprint = endorsementFingerprint
            self.tpmFirmware = tpmFirmware
        }
    }
}

public struct EventPage: Codable, Sendable {
    public var events: [SecurityEvent]
    /// Pass as `cursor` for older events; nil on the last page.
    public var nextCursor: String?
}

public struct AuditReport: Codable, Sendable {
    public var intact: Bool
    public var entries: Int
    public var head: String
    public var problems: [String]
}

public struct WaiverRequest: Codable, Sendable {
    var rule: String?
    var device: String?
    var label: String?
    /// How long, e.g. `4h`, `7d` (at most 90 days).
    var duration: String?
    var reason: String?

    public init(rule: String?, device: String?, label: String?, duration: String?, reason: String?) {
        self.rule = rule
        self.device = device
        self.label = label
        self.duration = duration
        self.reason = reason
    }

    func waiver(by actor: String, now: Date) throws(AttestationRefusal) -> Waiver {
        guard let rule = rule?.trimmingWhitespace(), !rule.isEmpty, rule.unicodeScalars.count <= 200 else {
            throw AttestationRefusal(.malformedRequest, "rule: the policy rule's name is required")
        }
        guard let text = duration, let lifetime = DurationText(text), lifetime.seconds > 0,
            lifetime.seconds <= 90 * 86400
        else {
            throw AttestationRefusal(.malformedRequest, "duration: a duration between 1s and 90d is required, e.g. 7d")
        }
        guard (device == nil) != (label == nil) else {
            throw AttestationRefusal(.malformedRequest, "give exactly one of device (an ID) or label (k=v)")
        }
        let labels = try label.map { text throws(AttestationRefusal) in
            guard let pair = FleetQueryParameters.pair(text) else {
                throw AttestationRefusal(.malformedRequest, "label: '\(text)' is not k=v")
            }
            return [pair.key: pair.value]
        }
        let reason = try FleetOperations.validReason(reason)
        return Waiver(
            id: "w-" + UUID().uuidString.lowercased().prefix(8), rule: rule, deviceID: device, label: labels,
            reason: reason, by: actor, createdAt: now, expiresAt: now.addingTimeInterval(lifetime.seconds))
    }
}

public struct EnrollmentTokenRequest: Codable, Sendable {
    var reusable: Bool?
    var allowReenroll: Bool?
    var ttl: String?
    var labels: [String: String]?
    var reason: String?

    public init(reusable: Bool, allowReenroll: Bool, ttl: String?, labels: [String: String], reason: String?) {
        self.reusable = reusable
        self.allowReenroll = allowReenroll
        self.ttl = ttl
        self.labels = labels
        self.reason = reason
    }

    func lifetime() throws(AttestationRefusal) -> Duration {
        let text = ttl ?? "24h"
        guard let parsed = DurationText(text), parsed.seconds > 0, parsed.seconds <= 365 * 86400 else {
            throw AttestationRefusal(.malformedRequest, "ttl: '\(text)' is not a duration between 1s and 365d")
        }
        return parsed.duration
    }
}

public struct EnrollmentTokenView: Codable, Sendable {
    public var id: String
    public var reusable: Bool
    public var allowReenroll: Bool
    public var labels: [String: String]
    public var createdAt: Date
    public var expiresAt: Date
    public var uses: Int

    init(_ record: TokenRecord) {
        id = record.id
        reusable = record.reusable
        allowReenroll = record.allowReenroll
        labels = record.labels
        createdAt = record.createdAt
        expiresAt = record.expiresAt
        uses = record.uses
    }
}

public struct APITokenRequest: Codable, Sendable {
    var name: String?
    var scopes: [String]?
    var ttl: String?

    public init(name: String?, scopes: [String]?, ttl: String?) {
        self.name = name
        self.scopes = scopes
        self.ttl = ttl
    }

    func validName() throws(AttestationRefusal) -> String { try APITokens.validName(name) }

    func validScopes() throws(AttestationRefusal) -> [String] {
        guard let scopes, !scopes.isEmpty, scopes.allSatisfy(APITokens.scopes.contains) else {
            throw AttestationRefusal(
                .malformedRequest, "scopes: one or more of \(APITokens.scopes.joined(separator: ", "))")
        }
        return scopes
    }

    func lifetime() throws(AttestationRefusal) -> Duration? {
        guard let ttl else { return nil }
        guard let parsed = DurationText(ttl), parsed.seconds > 0, parsed.seconds <= 3650 * 86400 else {
            throw AttestationRefusal(
                .malformedRequest, "ttl: '\(ttl)' is not a duration between 1s and 3650d, e.g. 90d")
        }
        return parsed.duration
    }
}

public struct APITokenView: Codable, Sendable {
    public var id: String
    public var name: String
    public var scopes: [String]
    public var createdAt: Date
    public var expiresAt: Date?
    public var revokedAt: Date?

    init(_ record: APITokenRecord) {
        id = record.id
        name = record.name
        scopes = record.scopes
        createdAt = record.createdAt
        expiresAt = record.expiresAt
        revokedAt = record.revokedAt
    }
}

/// A secret shown once: an enrollment or API token.
public struct CreatedSecret: Codable, Sendable {
    public var id: String
    public var token: String
    public var expiresAt: Date?
}

/// Query parameters → `FleetQuery` / `SecurityEventQuery`, refusing what they cannot mean.
public enum FleetQueryParameters {
    /// A query parameter's value by name; empty counts as absent.
    public typealias Lookup = (String) -> String?

    public static func parse(_ parameters: Lookup) throws(AttestationRefusal) -> FleetQuery {
        var query = FleetQuery()
        func text(_ name: String) -> String? { parameters(name).flatMap { $0.isEmpty ? nil : $0 } }
        if let verdict = text("verdict") {
            guard ["compliant", "noncompliant", "unknown", "none"].contains(verdict) else {
                throw AttestationRefusal(
                    .malformedRequest, "verdict=\(verdict): use compliant, noncompliant, unknown or none")
            }
            query.verdict = verdict
        }
        query.failingRule = text("failingRule")
        if let label = text("label") {
            guard let pair = pair(label) else {
                throw AttestationRefusal(.malformedRequest, "label=\(label) is not k=v")
            }
            query.label = pair
        }
        query.os = text("os")
        query.osVersion = text("osVersion")
        query.hostname = text("hostname")
        query.seenBefore = try text("seenBefore").map { value throws(AttestationRefusal) in
            try time(value, name: "seenBefore")
        }
        query.seenAfter = try text("seenAfter").map { value throws(AttestationRefusal) in
            try time(value, name: "seenAfter")
        }
        if let state = text("state") {
            guard ["active", "revoked", "replaced", "all"].contains(state) else {
                throw AttestationRefusal(.malformedRequest, "state=\(state): use active, revoked, replaced or all")
            }
            query.state = state == "all" ? nil : state
        }
        if let sort = text("sort") {
            guard let parsed = FleetQuery.Sort(rawValue: sort) else {
                throw AttestationRefusal(
                    .malformedRequest,
                    "sort=\(sort): use \(FleetQuery.Sort.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            query.sort = parsed
        }
        if let order = text("order") {
            guard order == "asc" || order == "desc" else {
                throw AttestationRefusal(.malformedRequest, "order=\(order): use asc or desc")
            }
            query.descending = order == "desc"
        }
        query.limit = try int(parameters, "limit", default: 50, range: 1...500)
        if let token = text("cursor") {
            guard let cursor = FleetCursor(token: token), cursor.sort == query.sort,
                cursor.descending == query.descending,
                query.sort == .hostname ? cursor.text != nil : cursor.number != nil
            else {
                throw AttestationRefusal(
                    .malformedRequest,
                    "cursor: not one this collector gave for sort=\(query.sort.rawValue) order=\(query.descending ? "desc" : "asc"); start again without it"
                )
            }
            query.after = cursor
        }
        return query
    }

    public static func events(_ parameters: Lookup) throws(AttestationRefusal) -> SecurityEventQuery {
        var query = SecurityEventQuery()
        query.deviceID = parameters("device").flatMap { $0.isEmpty ? nil : $0 }
        query.code = parameters("code").flatMap { $0.isEmpty ? nil : $0 }
        if let cursor = parameters("cursor"), !cursor.isEmpty {
            guard let value = Int64(cursor), value > 0 else {
                throw AttestationRefusal(
                    .malformedRequest, "cursor=\(cursor): not one this collector gave; start again without it")
            }
            query.before = value
        }
        query.limit = try int(parameters, "limit", default: 100, range: 1...1000)
        return query
    }

    static func int(_ parameters: Lookup, _ name: String, default value: Int, range: ClosedRange<Int>)
        throws(AttestationRefusal) -> Int
    {
        guard let text = parameters(name), !text.isEmpty else { return value }
        guard let parsed = Int(text), range.contains(parsed) else {
            throw AttestationRefusal(
                .malformedRequest, "\(name)=\(text): use a number from \(range.lowerBound) to \(range.upperBound)")
        }
        return parsed
    }

    /// An RFC 3339 time, or a duration meaning that long ago (`24h`, `7d`).
    static func time(_ text: String, name: String) throws(AttestationRefusal) -> Date {
        if let duration = DurationText(text) { return Date().addingTimeInterval(-duration.seconds) }
        if let date = try? Date(text, strategy: .iso8601) { return date }
        throw AttestationRefusal(
            .malformedRequest, "\(name)=\(text): use an RFC 3339 time (2026-11-25T08:00:00Z) or a duration ago (24h)")
    }

    static func pair(_ text: String) -> (key: String, value: String)? {
        let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty else { return nil }
        return (String(parts[0]), String(parts[1]))
    }
}

/// A Shared Signals stream as the transmitter's operators see it (`GET /v1/ssf/streams`).
struct OperatorStreamView: Codable {
    var id: String
    /// The credential that manages it: an API token's ID, or `oauth:<client_id>@<issuer>`.
    var owner: String
    var audience: String
    var deliveryMethod: String
    var endpointURL: String?
    var eventsRequested: [String]
    var status: String
    var reason: String?
    var description: String?
    var createdAt: Date

    init(_ stream: StreamRecord) {
        id = stream.id
        owner = stream.tokenID
        audience = stream.audience
        deliveryMethod = stream.deliveryMethod
        endpointURL = stream.endpointURL
        eventsRequested = stream.eventsRequested
        status = stream.status
        reason = stream.statusReason
        description = stream.description
        createdAt = stream.createdAt
    }
}

/// `POST /v1/ssf/streams/{id}/status`: what the operator sets, and why (recorded, and told to the receiver).
struct OperatorStreamStatus: Codable {
    var status: String?
    var reason: String?
}
