/// Why the collector refused a request. Codes are stable: clients and tests match on `code`, never on
/// the message. Documented in `Sources/PostureCollector/PROTOCOL.md`.
public struct AttestationRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        // The request itself.
        public static let malformedRequest = Code(rawValue: "malformed_request")
        public static let payloadTooLarge = Code(rawValue: "payload_too_large")
        // The JWS.
        public static let malformedJWS = Code(rawValue: "malformed_jws")
        public static let unsupportedAlgorithm = Code(rawValue: "unsupported_algorithm")
        public static let keyMismatch = Code(rawValue: "key_mismatch")
        public static let badSignature = Code(rawValue: "bad_signature")
        // The signed payload.
        public static let malformedPayload = Code(rawValue: "malformed_payload")
        public static let unsupportedSchema = Code(rawValue: "unsupported_schema")
        public static let deviceMismatch = Code(rawValue: "device_mismatch")
        public static let nonceUnknown = Code(rawValue: "nonce_unknown")
        public static let nonceExpired = Code(rawValue: "nonce_expired")
        public static let nonceReused = Code(rawValue: "nonce_reused")
        /// Signed under a nonce that a newer one had replaced (beyond the skew): a fresh nonce cures it.
        public static let nonceSuperseded = Code(rawValue: "nonce_superseded")
        /// This device's report with this sequence is stored already: the proof a resent report may go.
        public static let alreadyAccepted = Code(rawValue: "already_accepted")
        public static let sequenceNotIncreasing = Code(rawValue: "sequence_not_increasing")
        public static let staleIssueTime = Code(rawValue: "stale_issue_time")
        public static let futureIssueTime = Code(rawValue: "future_issue_time")
        // Identity and enrollment.
        public static let certificateRequired = Code(rawValue: "certificate_required")
        public static let deviceRevoked = Code(rawValue: "device_revoked")
        public static let deviceUnknown = Code(rawValue: "device_unknown")
        public static let tokenInvalid = Code(rawValue: "token_invalid")
        public static let tokenExpired = Code(rawValue: "token_expired")
        public static let tokenUsed = Code(rawValue: "token_used")
        public static let machineAlreadyEnrolled = Code(rawValue: "machine_already_enrolled")
        public static let badCSR = Code(rawValue: "bad_csr")
        /// The TPM's endorsement certificate does not chain to a configured manufacturer root.
        public static let tpmUntrusted = Code(rawValue: "tpm_untrusted")
        /// TPM evidence that is malformed or does not prove what it claims.
        public static let tpmEvidenceInvalid = Code(rawValue: "tpm_evidence_invalid")
        // The API for policy engines and operators.
        public static let unauthorized = Code(rawValue: "unauthorized")
        public static let insufficientScope = Code(rawValue: "insufficient_scope")
        public static let notFound = Code(rawValue: "not_found")
        /// The action does not apply as things are: to the device (already quarantined, not quarantined,
        /// revoked), or an API credential's name an active one already has.
        public static let conflict = Code(rawValue: "conflict")
        public static let methodNotAllowed = Code(rawValue: "method_not_allowed")
        /// A request for just-in-time access that its grant or the device's verdict does not allow; the
        /// message starts with the access reason (`device-not-compliant: ...`, PROTOCOL.md "Access").
        public static let accessRefused = Code(rawValue: "access_refused")
        // The collector.
        public static let internalError = Code(rawValue: "internal_error")
        /// Too much is waiting for the store: retry after the answer's `Retry-After`, with jitter.
        public static let overloaded = Code(rawValue: "overloaded")

        /// Every code, in PROTOCOL.md's order: what the journal catalog and the docs must each cover.
        public static let all: [Code] = [
            .malformedRequest, .payloadTooLarge, .malformedJWS, .unsupportedAlgorithm, .keyMismatch, .badSignature,
            .malformedPayload, .unsupportedSchema, .deviceMismatch, .futureIssueTime, .staleIssueTime, .nonceUnknown,
            .nonceExpired, .nonceSuperseded, .nonceReused, .alreadyAccepted, .sequenceNotIncreasing,
            .certificateRequired, .deviceRevoked, .deviceUnknown,
            .tokenInvalid, .tokenExpired, .tokenUsed, .machineAlreadyEnrolled, .badCSR, .tpmUntrusted,
            .tpmEvidenceInvalid, .unauthorized,
            .insufficientScope, .notFound, .conflict, .methodNotAllowed, .accessRefused, .internalError, .overloaded,
        ]

        /// The HTTP status of each refusal: mapped here and nowhere else.
        public var httpStatus: Int {
            switch self {
            case .payloadTooLarge: 413
            case .certificateRequired, .keyMismatch, .badSignature, .tokenInvalid, .tokenExpired, .tokenUsed: 401
            case .deviceRevoked, .deviceMismatch, .accessRefused, .tpmUntrusted: 403
            case .deviceUnknown, .notFound: 404
            case .unauthorized: 401
            case .insufficientScope: 403
            case .methodNotAllowed: 405
            case .machineAlreadyEnrolled, .nonceReused, .alreadyAccepted, .sequenceNotIncreasing, .conflict: 409
            case .internalError: 500
            case .overloaded: 429
            default: 400
            }
        }

        /// A refusal the agent can cure by signing the same facts again with a fresh nonce.
        public var isCuredByFreshNonce: Bool {
            self == .nonceUnknown || self == .nonceExpired || self == .nonceSuperseded || self == .staleIssueTime
                || self == .futureIssueTime
        }

        /// A refusal a wrong clock causes, on either side: the report is kept and retried until the clocks
        /// agree again (or an operator drops it), never set aside for good.
        public var isClockDependent: Bool {
            self == .staleIssueTime || self == .futureIssueTime || self == .nonceExpired
        }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

/// The body of every refusal: an RFC 9457 problem (`application/problem+json`). `type` names the stable
/// code (`urn:posture:problem:<code>`), `status` the HTTP status, `detail` the cause and the fix; the
/// extension members `error` (the code) and `message` (the detail) are what clients before 0.7 read, and
/// what scripts match on.
public struct ErrorBody: Codable, Sendable, Equatable {
    public static let mediaType = "application/problem+json"
    public static let typePrefix = "urn:posture:problem:"

    public var type: String
    public var title: String
    public var status: Int
    public var detail: String
    public var error: AttestationRefusal.Code
    public var message: String

    public init(_ refusal: AttestationRefusal) {
        type = Self.typePrefix + refusal.code.rawValue
        // The same for every occurrence of the code (RFC 9457 §3.1.3); the detail varies.
        title = String(refusal.code.rawValue.map { $0 == "_" ? " " : $0 })
        status = refusal.code.httpStatus
        detail = refusal.message
        error = refusal.code
        message = refusal.message
    }

    /// Reads a problem, or the `{"error", "message"}` body of collectors before 0.7.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        error = try c.decode(AttestationRefusal.Code.self, forKey: .error)
        message = try c.decodeIfPresent(String.self, forKey: .message) ?? c.decode(String.self, forKey: .detail)
        type = try c.decodeIfPresent(String.self, forKey: .type) ?? Self.typePrefix + error.rawValue
        title = try c.decodeIfPresent(String.self, forKey: .title) ?? error.rawValue
        status = try c.decodeIfPresent(Int.self, forKey: .status) ?? error.httpStatus
        detail = try c.decodeIfPresent(String.self, forKey: .detail) ?? message
    }

    public var refusal: AttestationRefusal { AttestationRefusal(error, message) }
}
