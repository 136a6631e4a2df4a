import Crypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

public enum ComplianceStatus: String, Sendable, Codable, Equatable {
    case compliant, noncompliant, unknown
}

/// What the collector says about one device at one moment. Encoded as the JSON of the verdict API and,
/// in part, as the claims of the signed verdict JWT.
public struct Verdict: Sendable, Codable, Equatable {
    public var deviceID: String
    public var status: ComplianceStatus
    /// Rules that fail now (grace over, not waived), with what was observed.
    public var failing: [RuleOutcome]
    /// Rules whose facts are unavailable (they make the verdict unknown), and staleness.
    public var unknown: [RuleOutcome]
    /// Failing rules that do not count yet: in their grace period, or waived.
    public var excused: [RuleOutcome]
    public var risk: Int
    public var riskReasons: [String]
    public var quarantine: Quarantine?
    public var reportIssuedAt: Date?
    public var evaluatedAt: Date
    /// How long the verdict may be relied on: the JWT's `exp`.
    public var validUntil: Date
    public var policyVersion: String
    /// When the verdict changes by itself (a report ages out, a waiver or grace period ends).
    public var reevaluateAt: Date?
    /// Counts the device's verdict changes at the collector (1 for the first): orders verdicts whatever the
    /// clocks said when they were signed. Absent from verdicts of collectors before it existed.
    public var revision: UInt64?

    public init(
        deviceID: String, status: ComplianceStatus, failing: [RuleOutcome], unknown: [RuleOutcome],
        excused: [RuleOutcome], risk: Int, riskReasons: [String], quarantine: Quarantine?, reportIssuedAt: Date?,
        evaluatedAt: Date, validUntil: Date, policyVersion: String, reevaluateAt: Date?
    ) {
        self.deviceID = deviceID
        self.status = status
        self.failing = failing
        self.unknown = unknown
        self.excused = excused
        self.risk = risk
        self.riskReasons = riskReasons
        self.quarantine = quarantine
        self.reportIssuedAt = reportIssuedAt
        self.evaluatedAt = evaluatedAt
        self.validUntil = validUntil
        self.policyVersion = policyVersion
        self.reevaluateAt = reevaluateAt
    }

    /// Identifies the verdict's content (not its timestamps): the ETag, and what a long-poll waits on.
    public var version: String {
        var parts = [status.rawValue, policyVersion, String(risk), quarantine?.reason ?? "-"]
        for outcome in failing + unknown + excused {
            parts.append("\(outcome.rule)|\(outcome.state.rawValue)|\(outcome.observed)")
        }
        return sha256Hex(Array(parts.joined(separator: "\n").utf8), digits: 16)
    }

    /// When each failing rule started failing (carried between evaluations for grace periods).
    public var failingSince: [String: Date] {
        var since: [String: Date] = [:]
        for outcome in failing + excused { if let start = outcome.since { since[outcome.rule] = start } }
        return since
    }
}

public struct RuleOutcome: Sendable, Codable, Equatable {
    public enum State: String, Sendable, Codable, Equatable {
        case failing, unavailable, stale, grace, waived
    }

    public var rule: String
    public var severity: Severity
    public var state: State
    /// What the report showed, e.g. `debian 11`, `root not encrypted`, `27 sshAuthFailure in 1h`.
    public var observed: String
    /// What the rule wants, e.g. `debian >= 12`.
    public var expected: String
    /// When the rule started failing.
    public var since: Date?
    /// When a grace period or waiver ends.
    public var until: Date?
    /// The waiver that excuses it.
    public var waiver: String?

    public init(
        rule: String, severity: Severity, state: State, observed: String, expected: String, since: Date? = nil,
        until: Date? = nil, waiver: String? = nil
    ) {
        self.rule = rule
        self.severity = severity
        self.state = state
        self.observed = observed
        self.expected = expected
        self.since = since
        self.until = until
        self.waiver = waiver
    }
}

public struct Quarantine: Sendable, Codable, Equatable {
    public var by: String
    public var reason: String
    public var at: Date

    public init(by: String, reason: String, at: Date) {
        self.by = by
        self.reason = reason
        self.at = at
    }
}

/// A time-bound exception: rule `rule` does not count for a device (or every device with a label) until
/// `expiresAt`.
public struct Waiver: Sendable, Codable, Equatable {
    public var id: String
    public var rule: String
    public var deviceID: String?
    public var label: [String: String]?
    public var reason: String
    public var by: String
    public var createdAt: Date
    public var expiresAt: Date
    public var revokedAt: Date?

    public init(
        id: String, rule: String, deviceID: String?, label: [String: String]?, reason: String, by: String,
        createdAt: Date, expiresAt: Date, revokedAt: Date? = nil
    ) {
        self.id = id
        self.rule = rule
        self.deviceID = deviceID
        self.label = label
        self.reason = reason
        self.by = by
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
    }

    public func covers(rule name: String, deviceID id: String, labels: [String: String], at now: Date) -> Bool {
        guard rule == name, revokedAt == nil, now < expiresAt else { return false }
        if let deviceID { return deviceID == id }
        if let label { return label.allSatisfy { labels[$0.key] == $0.value } }
        return false
    }
}

/// Journal event counts of one report, at its issue time: the signals rules and the risk score sum.
public struct SignalSample: Sendable, Equatable {
    public var at: Date
    public var counts: [JournalEventCategory: Int]

    public init(at: Date, counts: [JournalEventCategory: Int]) {
        self.at = at
        self.counts = counts
    }
}

/// The first `digits` hex digits of the SHA-256 of `bytes`.
public func sha256Hex(_ bytes: [UInt8], digits: Int = 64) -> String {
    String(Hex.encode(SHA256.hash(data: bytes)).prefix(digits))
}

public enum Severity: String, Sendable, Codable, Equatable, CaseIterable, Comparable {
    case low, medium, high, critical

    public var rank: Int {
        switch self {
        case .low: 0
        case .medium: 1
        case .high: 2
        case .critical: 3
        }
    }

    public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
}

/// A verdict JWT's claims, for the collector that signs them and every reader that checks them (the agent,
/// a policy engine): `sub` is the device ID, `exp` how long the verdict may be relied on.
public struct VerdictClaims: Codable, Sendable, Equatable {
    /// The JWS header's `typ` of a verdict JWT (RFC 8725 §3.11); a SET is `secevent+jwt`.
    public static let type = "posture-verdict+jwt"
    /// The `aud` claim of every verdict: relying parties on the verdict API and the device itself.
    public static let audience = "urn:posture:verdict"

    public struct Device: Codable, Sendable, Equatable {
        public var id: String
        public var spiffeID: String
        public var machineID: String
        public var hostname: String

        public init(id: String, spiffeID: String, machineID: String, hostname: String) {
            self.id = id
            self.spiffeID = spiffeID
            self.machineID = machineID
            self.hostname = hostname
        }

        enum CodingKeys: String, CodingKey {
            case id, hostname
            case spiffeID = "spiffe_id"
            case machineID = "machine_id"
        }
    }

    public var iss: String?
    /// Optional only to read what a reader must then refuse.
    public var aud: String?
    public var sub: String
    public var iat: Int
    public var nbf: Int?
    public var exp: Int
    public var jti: String?
    public var status: String
    public var failingRules: [String]?
    public var unknown: [String]?
    public var risk: Int?
    public var policy: String?
    public var verdictVersion: String?
    /// Counts changes of content; absent from verdicts of collectors before 0.5.
    public var verdictRevision: UInt64?
    public var quarantine: String?
    public var device: Device?

    public init(
        iss: String, sub: String, iat: Int, nbf: Int, exp: Int, jti: String, status: String, failingRules: [String],
        unknown: [String], risk: Int, policy: String, verdictVersion: String, verdictRevision: UInt64?,
        quarantine: String?, device: Device
    ) {
        self.iss = iss
        aud = Self.audience
        self.sub = sub
        self.iat = iat
        self.nbf = nbf
        self.exp = exp
        self.jti = jti
        self.status = status
        self.failingRules = failingRules
        self.unknown = unknown
        self.risk = risk
        self.policy = policy
        self.verdictVersion = verdictVersion
        self.verdictRevision = verdictRevision
        self.quarantine = quarantine
        self.device = device
    }

    enum CodingKeys: String, CodingKey {
        case iss, aud, sub, iat, nbf, exp, jti, status, unknown, risk, policy, device, quarantine
        case failingRules = "failing_rules"
        case verdictVersion = "verdict_version"
        case verdictRevision = "verdict_revision"
    }
}

/// A verdict and its signed JWT: the answer to `GET …/verdict` (policy engines' and the device's own), and
/// what rides along in an attestation receipt (where both may be absent).
public struct VerdictAnswer: Codable, Sendable, Equatable {
    public var verdict: Verdict?
    public var jwt: String?

    public init(verdict: Verdict?, jwt: String?) {
        self.verdict = verdict
        self.jwt = jwt
    }
}

/// One thing the agent's enforcement decided or did, as it reports it to the collector
/// (`POST /v1/enforcement`): its journal MESSAGE_ID, message and structured fields.
public struct EnforcementRecord: Codable, Sendable, Equatable {
    public var at: Date
    public var messageID: String
    public var message: String
    public var fields: [String: String]

    public init(at: Date, messageID: String, message: String, fields: [String: String]) {
        self.at = at
        self.messageID = messageID
        self.message = message
        self.fields = fields
    }
}
