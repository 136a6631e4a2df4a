import PostureModel
import PostureVerdict

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

// What the collector persists, one protocol per concern, so each part of the collector asks only for
// what it uses. `SQLStore` implements them all once, over either backend; one conformance suite runs
// against both. Operations that decide (consume a token, accept an attestation) check and write in one
// transaction, so several collectors sharing one database cannot both win.

/// Enrollment tokens, enrollment, certificates: who a device is.
public protocol EnrollmentStore: Sendable {
    /// With `action`, the operator action is recorded (and chained) in the same transaction.
    func insertToken(_ token: TokenRecord, recording action: OperatorAction?) async throws
    func tokens() async throws -> [TokenRecord]
    /// Consumes the token, refuses a known machine-id unless the token allows re-enrollment, stores the
    /// device, its certificate and its first nonce. Throws `StoreRefusal` for a refused enrollment.
    func enroll(_ enrollment: Enrollment, now: Date) async throws
    func insertCertificate(_ certificate: CertificateRecord) async throws
    func certificates(deviceID: String) async throws -> [CertificateRecord]
    /// The device a certificate was issued to, by `CertificateFingerprint.sha256` (any of its certificates).
    func deviceID(certificateFingerprint: String) async throws -> String?
    /// True when the certificate's device is active (not revoked, not replaced). Asked at every handshake.
    func isDeviceActive(_ id: String) async throws -> Bool
}

extension EnrollmentStore {
    public func insertToken(_ token: TokenRecord) async throws { try await insertToken(token, recording: nil) }
}

/// The devices as operators see them, and their revocation.
public protocol DeviceStore: Sendable {
    func device(_ id: String) async throws -> DeviceRecord?
    func deviceView(_ id: String) async throws -> DeviceView?
    func devices() async throws -> [DeviceView]
    /// Marks the device revoked; its certificates are refused from the next handshake on.
    func revoke(deviceID: String, now: Date) async throws -> Bool
    /// Revokes the device and records who and why, in one transaction.
    func revoke(deviceID: String, actor: String, reason: String, at: Date) async throws -> Bool
}

/// Nonces, the acceptance of attestations, and what was refused.
public protocol AttestationStore: Sendable {
    /// Issues a nonce and supersedes the device's earlier ones.
    func issueNonce(_ nonce: IssuedNonce, deviceID: String) async throws
    /// Checks each attestation against stored state and stores the accepted ones, in order, in one
    /// transaction (group commit). One result per input.
    func accept(_ batch: [PendingAttestation], policy: FreshnessPolicy) async throws
        -> [Result<AttestationReceipt, StoreRefusal>]
    /// Newest first, in the order they were accepted.
    func attestations(deviceID: String, limit: Int) async throws -> [StoredAttestation]
    func recordSecurityEvents(_ events: [SecurityEvent]) async throws
    func securityEvents(limit: Int) async throws -> [SecurityEvent]
    /// Commits one small write: the readiness check that the store can take an attestation.
    func checkWritable(now: Date) async throws
}

/// The fleet as the API and the dashboard query it (`FleetIndex`).
public protocol FleetStore: Sendable {
    /// A page of devices matching the filters, in the query's order.
    func fleetDevices(_ query: FleetQuery) async throws -> FleetPage
    func fleetDevice(_ id: String) async throws -> FleetDevice?
    func fleetSummary(now: Date) async throws -> FleetSummary
    func securityEvents(_ query: SecurityEventQuery) async throws -> [SecurityEvent]
}

/// Verdicts, their inputs and their history.
public protocol VerdictStore: Sendable {
    /// The newest report of every active device that has one.
    func latestReports() async throws -> [LatestReport]
    /// Every active device's record (no counts, no reports: what the verdict service starts from).
    func activeDevices() async throws -> [DeviceRecord]
    func signals(since: Date) async throws -> [SignalRow]
    /// The signals of attestations issued in (`start`, `end`]: a long history read a slice at a time.
    func signals(after start: Date, through end: Date) async throws -> [SignalRow]
    func verdicts() async throws -> [StoredVerdict]
    /// Stores a device's verdict; with a change, records it and queues its SETs, all in one transaction,
    /// if the stored verdict is still the one `expected` names. False, with nothing written, when another
    /// collector stored a newer one first: the caller reads it (`storedVerdict`) instead.
    func saveVerdict(
        _ verdict: StoredVerdict, change: VerdictChange?, outbox: [OutboxEntry], expected: VerdictPrecondition
    ) async throws -> Bool
    func storedVerdict(deviceID: String) async throws -> StoredVerdict?
    /// Several `saveVerdict`s in one transaction (a start that changes many verdicts at once): each
    /// decided as alone, in order; true for each one stored.
    func saveVerdicts(_ saves: [VerdictSave]) async throws -> [Bool]
    /// The device's newest accepted report (one row), whatever the device's status.
    func latestReport(deviceID: String) async throws -> LatestReport?
    func verdictChanges(deviceID: String?, limit: Int) async throws -> [VerdictChange]
    /// Quarantines (or releases, with `quarantine` false) a device, recording the action. False if the
    /// device is unknown or already in that state.
    func setQuarantine(deviceID: String, quarantine: Bool, actor: String, reason: String, at: Date) async throws
        -> Bool
    func quarantines() async throws -> [String: Quarantine]
    /// Records `baseline` as the measured boot an active TPM device is expected to show, with the operator
    /// action. False if the device is unknown, not active or not enrolled with a TPM.
    func acceptBoot(deviceID: String, baseline: [String], actor: String, reason: String, at: Date) async throws -> Bool
    func insertWaiver(_ waiver: Waiver) async throws
    func revokeWaiver(id: String, actor: String, reason: String, at: Date) async throws -> Bool
    func waivers() async throws -> [Waiver]
    /// Records that a policy engine pulled the device's verdict at `at` (a later time wins).
    func recordVerdictPull(deviceID: String, at: Date) async throws
    /// The devices whose verdict a policy engine pulled since `since`, with the newest pull; one device's
    /// with `deviceID`.
    func verdictPulls(since: Date, deviceID: String?) async throws -> [String: Date]
}

extension VerdictStore {
    public func saveVerdict(_ verdict: StoredVerdict, change: VerdictChange?, outbox: [OutboxEntry]) async throws {
        _ = try await saveVerdict(verdict, change: change, outbox: outbox, expected: .any)
    }
}

/// What a verdict may replace: any stored verdict, or exactly the one of this version (nil: none yet).
public enum VerdictPrecondition: Sendable, Equatable {
    case any
    case version(String?)
}

/// Changes other collectors made to the shared store, as they commit (PostgreSQL LISTEN/NOTIFY): a
/// device's enrollment, report, verdict or state, or an operator action.
public enum StoreEvent: Sendable, Equatable {
    case device(String)
    case action
}

/// A store several collectors share tells each of them what the others changed.
public protocol SharedStoreEvents: Sendable {
    /// Other collectors' changes, until the task is cancelled; reconnects by itself.
    func events() -> AsyncStream<StoreEvent>
}

/// Who did what: operator actions, and the tamper-evident trail they are chained into.
public protocol OperatorStore: Sendable {
    func recordOperatorAction(_ action: OperatorAction) async throws
    func operatorActions(after id: Int64, limit: Int) async throws -> [OperatorAction]
    func lastOperatorActionID() async throws -> Int64
    /// Recomputes the audit trail's hash chain and compares it with what it records (`AuditTrail`).
    func verifyAuditTrail() async throws -> AuditVerification
}

/// API credentials for policy engines and operators.
public protocol CredentialStore: Sendable {
    func insertAPIToken(_ token: APITokenRecord, recording action: OperatorAction?) async throws
    func apiToken(hash: String) async throws -> APITokenRecord?
    func apiTokens() async throws -> [APITokenRecord]
    func revokeAPIToken(id: String, at: Date, recording action: OperatorAction?) async throws -> Bool
}

extension CredentialStore {
    public func insertAPIToken(_ token: APITokenRecord) async throws { try await insertAPIToken(token, recording: nil) }
    public func revokeAPIToken(id: String, at: Date) async throws -> Bool {
        try await revokeAPIToken(id: id, at: at, recording: nil)
    }
}

/// Shared Signals streams and their durable outbox.
public protocol SignalStore: Sendable {
    func upsertStream(_ stream: StreamRecord) async throws
    func streams() async throws -> [StreamRecord]
    /// Undelivered SETs of a stream, oldest first; for push only those due by `dueBy`.
    func pendingOutbox(streamID: String, dueBy: Date?, limit: Int) async throws -> [OutboxEntry]
    /// SETs not yet delivered, over all streams, and when the oldest was queued (`/metrics`).
    func outboxBacklog() async throws -> (pending: Int, oldest: Date?)
    func markDelivered(streamID: String, jtis: [String], at: Date) async throws -> Int
    func markFailed(id: Int64, error: String, nextAttemptAt: Date) async throws
    /// A SET its receiver refused for good (RFC 8935 `err`): done, with the reason kept.
    func markRejected(id: Int64, error: String, at: Date) async throws
    /// The same for a poll receiver's `setErrs`; true when an undelivered SET of the stream was marked.
    func markRejected(streamID: String, jti: String, error: String, at: Date) async throws -> Bool
    func insertOutbox(_ entries: [OutboxEntry]) async throws
}

/// Retention: history older than the configured times, in batches.
public protocol RetentionStore: Sendable {
    /// Deletes history older than the given times, keeping each device's newest attestation and
    /// certificate, current nonces and everything the audit trail chains.
    func pruneHistory(
        attestationsIssuedBefore: Date, certificatesExpiredBefore: Date, noncesSupersededBefore: Date, batch: Int
    ) async throws -> PrunedHistory
    /// Deletes security events recorded before `before`, except enforcement reports (the audit trail's).
    func pruneSecurityEvents(before: Date, batch: Int) async throws -> Int
}

/// Work that one collector at a time does (retention, time-driven re-evaluation, pushing one SSF
/// stream): a lease in the store, renewed by its holder, taken over by another when it lapses.
public protocol LeaseStore: Sendable {
    /// True when `owner` holds the lease `name` until `now + duration`: it was free, lapsed, or its own.
    func claimLease(_ name: String, owner: String, for duration: Duration, now: Date) async throws -> Bool
}

/// What every collector sharing a store must agree on (the CA), recorded by the first.
public protocol FleetIdentityStore: Sendable {
    /// Records `value` under `name` unless a value is recorded already; returns the recorded value.
    func claimIdentity(_ name: String, value: String) async throws -> String
}

/// A signed-in dashboard user, kept in the store so that any collector of a fleet serves the session.
public struct SessionRecord: Sendable, Equatable {
    /// SHA-256 of the session cookie: the store never holds a usable cookie.
    public var idHash: String
    public var credentialHash: String
    public var name: String
    public var csrf: String
    public var created: Date
    public var lastUsed: Date

    public init(idHash: String, credentialHash: String, name: String, csrf: String, created: Date, lastUsed: Date) {
        self.idHash = idHash
        self.credentialHash = credentialHash
        self.name = name
        self.csrf = csrf
        self.created = created
        self.lastUsed = lastUsed
    }
}

/// The limits of dashboard sessions, enforced by the store as a session is created or used.
public struct SessionLimits: Sendable {
    public var lifetime: TimeInterval
    public var idle: TimeInterval
    public var perCredential: Int
    public var total: Int

    public init(lifetime: TimeInterval, idle: TimeInterval, perCredential: Int, total: Int) {
        self.lifetime = lifetime
        self.idle = idle
        self.perCredential = perCredential
        self.total = total
    }
}

public protocol SessionStore: Sendable {
    /// Stores the session after ending `replacing`, sessions past their limits, the credential's oldest
    /// beyond `perCredential` and the least recently used beyond `total`.
    func createSession(_ session: SessionRecord, replacing idHash: String?, limits: SessionLimits) async throws
    /// The live session (its last use noted at most once a minute), or nil: unknown, or ended by its limits.
    func session(idHash: String, now: Date, limits: SessionLimits) async throws -> SessionRecord?
    func endSession(idHash: String) async throws
}

/// All of it: what a collector opens.
public typealias PostureStore = EnrollmentStore & DeviceStore & AttestationStore & FleetStore & VerdictStore
    & OperatorStore & CredentialStore & SignalStore & RetentionStore & LeaseStore
    & SessionStore & FleetIdentityStore & AccessStore
