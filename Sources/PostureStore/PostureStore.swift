import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Everything the collector persists. One implementation per database; one conformance suite for all.
/// Operations that decide (consume a token, accept an attestation) check and write in one transaction,
/// so several collectors sharing one database cannot both win.
public protocol PostureStore: VerdictStore {
    /// With `action`, the operator action is recorded (and chained) in the same transaction.
    func insertToken(_ token: TokenRecord, recording action: OperatorAction?) async throws
    /// Recomputes the audit trail's hash chain and compares it with what it records (`AuditTrail`).
    func verifyAuditTrail() async throws -> AuditVerification
    func tokens() async throws -> [TokenRecord]

    /// Consumes the token, refuses a known machine-id unless the token allows re-enrollment, stores the
    /// device, its certificate and its first nonce. Throws `AttestationRefusal` for a refused enrollment.
    func enroll(_ enrollment: Enrollment, now: Date) async throws

    func device(_ id: String) async throws -> DeviceRecord?
    func deviceView(_ id: String) async throws -> DeviceView?
    func devices() async throws -> [DeviceView]
    /// Marks the device revoked; its certificates are refused from the next handshake on.
    func revoke(deviceID: String, now: Date) async throws -> Bool
    /// True when the certificate's device is active (not revoked, not replaced). Asked at every handshake.
    func isDeviceActive(_ id: String) async throws -> Bool

    func insertCertificate(_ certificate: CertificateRecord) async throws
    /// Deletes history older than the given times, keeping each device's newest attestation and
    /// certificate, current nonces and everything the audit trail chains.
    func pruneHistory(
        attestationsIssuedBefore: Date, certificatesExpiredBefore: Date, noncesSupersededBefore: Date, batch: Int
    ) async throws -> PrunedHistory
    /// Commits one small write: the readiness check that the store can take an attestation.
    func checkWritable(now: Date) async throws
    /// Deletes security events recorded before `before`, except enforcement reports (the audit trail's).
    func pruneSecurityEvents(before: Date, batch: Int) async throws -> Int
    /// Issues a nonce and supersedes the device's earlier ones.
    func issueNonce(_ nonce: IssuedNonce, deviceID: String) async throws

    /// Checks each attestation against stored state and stores the accepted ones, in order, in one
    /// transaction (group commit). One result per input.
    func accept(_ batch: [PendingAttestation], policy: FreshnessPolicy) async throws
        -> [Result<AttestationReceipt, AttestationRefusal>]

    /// Newest first, in the order they were accepted.
    func attestations(deviceID: String, limit: Int) async throws -> [StoredAttestation]
    func certificates(deviceID: String) async throws -> [CertificateRecord]
    /// The device a certificate was issued to, by `CertificateFingerprint.sha256` (any of its certificates).
    func deviceID(certificateFingerprint: String) async throws -> String?

    func recordSecurityEvents(_ events: [SecurityEvent]) async throws
    func securityEvents(limit: Int) async throws -> [SecurityEvent]

    /// A page of devices matching the filters, in the query's order (`FleetIndex`).
    func fleetDevices(_ query: FleetQuery) async throws -> FleetPage
    func fleetDevice(_ id: String) async throws -> FleetDevice?
    func fleetSummary(now: Date) async throws -> FleetSummary
    func securityEvents(_ query: SecurityEventQuery) async throws -> [SecurityEvent]
    /// Revokes the device and records who and why, in one transaction.
    func revoke(deviceID: String, actor: String, reason: String, at: Date) async throws -> Bool
}

extension PostureStore {
    public func insertToken(_ token: TokenRecord) async throws { try await insertToken(token, recording: nil) }
    public func insertAPIToken(_ token: APITokenRecord) async throws { try await insertAPIToken(token, recording: nil) }
    public func revokeAPIToken(id: String, at: Date) async throws -> Bool {
        try await revokeAPIToken(id: id, at: at, recording: nil)
    }
}
