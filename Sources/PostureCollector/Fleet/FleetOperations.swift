import Logging
import PostureModel
import PostureStore
import PostureVerdict
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Every query and action an operator has on the fleet, each with its authorization decision: the API's
/// handlers (`FleetAPIHandlers`), the dashboard and the offline `posture-collector` commands call these, and
/// nothing here knows HTTP. Every write is recorded in the audit trail with the caller as the actor.
public struct FleetOperations: Sendable {
    let store: any PostureStore
    let metrics: CollectorMetrics
    let auditChecks: AuditChecks
    /// The running collector: its verdicts (an action applies at once) and its Shared Signals transmitter.
    /// Nil in the offline tool, whose writes the running collectors apply from the action log (at once on
    /// PostgreSQL through its notifications, within 250 ms on SQLite).
    let running: CollectorCore?

    init(collector: CollectorCore) {
        store = collector.store
        metrics = collector.metrics
        auditChecks = collector.auditChecks
        running = collector
    }

    /// The break-glass tool's operations: the store alone, with or without a collector running.
    public init(offline store: any PostureStore) {
        self.store = store
        metrics = CollectorMetrics()
        auditChecks = AuditChecks()
        running = nil
    }

    public static let read = "fleet:read"
    public static let write = "fleet:write"
    public static let admin = "admin"

    // MARK: Queries (fleet:read)

    public func devices(_ query: FleetQuery, by caller: Caller) async throws -> FleetPage {
        try caller.require(Self.read)
        return try await metrics.storeQuery("devices") { try await store.fleetDevices(query) }
    }

    public func summary(by caller: Caller) async throws -> FleetSummary {
        try caller.require(Self.read)
        let now = Date()
        var summary = try await metrics.storeQuery("summary") { try await store.fleetSummary(now: now) }
        summary.byStage = try await stageCounts(now: now)
        return summary
    }

    /// A device ID (any state, so a revoked device can still be shown), or `hostname:NAME`,
    /// `machine-id:HEX`, `sha256:HEX` naming exactly one active device (409 naming them when several do).
    /// The one resolver every route shares (`VerdictService.resolve`).
    public func resolve(_ lookup: String) async throws -> String {
        let lookup = lookup.removingPercentEncoding ?? lookup
        if try await store.device(lookup) != nil { return lookup }
        if let running { return try await running.verdicts.resolve(.init(lookup)) }
        // Offline: the same reading over the store, which the running collector holds in memory.
        let matches: [String]
        switch VerdictService.Lookup(lookup) {
        case .device(let id): matches = try await store.device(id) == nil ? [] : [id]
        case .certificate(let fingerprint):
            matches = try await store.deviceID(certificateFingerprint: fingerprint).map { [$0] } ?? []
        case .hostname(let hostname):
            matches = try await activeDevices().filter { $0.hostname == hostname }.map(\.id)
        case .machineID(let machineID):
            matches = try await activeDevices().filter { $0.machineID == machineID }.map(\.id)
        }
        return try VerdictService.single(matches, for: .init(lookup))
    }

    private func activeDevices() async throws -> [DeviceRecord] {
        try await store.devices().map(\.device).filter { $0.status == .active }
    }

    /// One device: latest facts, verdict, and its history.
    public func detail(_ lookup: String, attestations limit: Int = 0, by caller: Caller) async throws -> DeviceDetail {
        try caller.require(Self.read)
        let id = try await resolve(lookup)
        return try await metrics.storeQuery("device") { try await detail(id, attestations: limit) }
    }

    public func events(_ query: SecurityEventQuery, by caller: Caller) async throws -> EventPage {
        try caller.require(Self.read)
        let events = try await metrics.storeQuery("events") { try await store.securityEvents(query) }
        return EventPage(
            events: events, nextCursor: events.count == query.limit ? events.last?.id.map(String.init) : nil)
    }

    public func waivers(limit: Int? = nil, cursor: String? = nil, by caller: Caller) async throws -> WaiverPage {
        try caller.require(Self.read)
        let page = try ListPage(
            try await store.waivers(), created: \.createdAt, id: \.id, limit: limit, cursor: cursor)
        return WaiverPage(waivers: page.items, nextCursor: page.nextCursor)
    }

    /// Every receiver's Shared Signals stream.
    func streams(limit: Int?, cursor: String?, by caller: Caller) async throws -> OperatorStreamPage {
        try caller.require(Self.read)
        let page = try ListPage(
            try await transmitter().allStreams().map(OperatorStreamView.init), created: \.createdAt, id: \.id,
            limit: limit, cursor: cursor)
        return OperatorStreamPage(streams: page.items, nextCursor: page.nextCursor)
    }

    /// Reads the whole hash chain (one verification at a time; callers meanwhile share its result).
    public func verifyAudit(expectingHead expected: String?, by caller: Caller) async throws -> AuditReport {
        try caller.require(Self.read)
        let result = try await auditChecks.verify(store)
        var problems = result.problems
        if let expected, expected != result.head {
            problems.append(
                "head is \(result.head), not the expected \(expected) (entries were added or removed since)")
        }
        return AuditReport(intact: problems.isEmpty, entries: result.entries, head: result.head, problems: problems)
    }

    /// What a candidate policy would change, without changing anything (`PolicyPreview`): evaluated against
    /// every device's inputs as the running collector holds them, or, offline, as the store has them under
    /// `current` (the policy file in force). `limit` bounds the changes listed, not those counted.
    public func previewPolicy(_ candidate: Policy, current: Policy? = nil, limit: Int = 100, by caller: Caller)
        async throws -> PolicyPreview
    {
        try caller.require(Self.read)
        guard (0...10_000).contains(limit) else {
            throw AttestationRefusal(.malformedRequest, "limit=\(limit): use a number from 0 to 10000")
        }
        // One at a time: a what-if takes every core for seconds on a large fleet, and attestations go on.
        let started = Self.previewRunning.withLock { running -> Bool in
            if running { return false }
            running = true
            return true
        }
        guard started else {
            throw AttestationRefusal(.overloaded, "a policy preview is already running; retry in a few seconds")
        }
        defer { Self.previewRunning.withLock { $0 = false } }
        let now = Date()
        if let running {
            var (policy, state) = await running.verdicts.snapshot(now: now)
            // The running collector keeps signals as far back as its policy looks; a candidate may look further.
            if candidate.signalWindow > policy.signalWindow {
                try await state.loadSignals(from: store, since: now.addingTimeInterval(-candidate.signalWindow.seconds))
            }
            // One thread: the collector's other cores go on serving attestations meanwhile.
            return await state.preview(current: policy, candidate: candidate, limit: limit, width: 1, now: now)
        }
        guard let current else {
            throw AttestationRefusal(.internalError, "an offline policy preview needs the policy in force")
        }
        // Signals as far back as either policy looks.
        let window = max(current.signalWindow, candidate.signalWindow)
        let state = try await metrics.storeQuery("policy-preview") {
            try await FleetState.load(
                from: store, signalWindow: window, now: now, logger: Logger(label: "posture.policy-preview"))
        }
        return await state.preview(current: current, candidate: candidate, limit: limit, now: now)
    }

    /// The same for a candidate sent as text (`POST /v1/policy/preview`): the caller's scope is checked
    /// before the text is parsed, and the text as strictly as a policy file.
    public func previewPolicy(text: String, limit: Int = 100, by caller: Caller) async throws -> PolicyPreview {
        try caller.require(Self.read)
        guard text.utf8.count <= Self.maxPolicyText else {
            throw AttestationRefusal(
                .payloadTooLarge, "the candidate policy is \(text.utf8.count) bytes; at most \(Self.maxPolicyText)")
        }
        let candidate: Policy
        do {
            candidate = try PolicyParser.parse(text, file: "candidate policy")
        } catch {
            throw AttestationRefusal(.malformedRequest, "\(error)")
        }
        return try await previewPolicy(candidate, limit: limit, by: caller)
    }

    /// A policy file is a few kilobytes (the shipped one, every key commented, about 10 KiB).
    public static let maxPolicyText = 262_144
    private static let previewRunning = Mutex(false)

    // MARK: Actions (fleet:write)

    public enum DeviceAction: String, CaseIterable, Sendable {
        case quarantine, release, revoke
    }

    /// Quarantine, release or revoke, applied to the verdict at once (not at the next tick) so the answer
    /// shows it.
    public func apply(_ action: DeviceAction, to lookup: String, reason: String?, by caller: Caller) async throws
        -> DeviceDetail
    {
        try caller.require(Self.write)
        let reason = try Self.validReason(reason)
        let id = try await resolve(lookup)
        let now = Date()
        if action == .quarantine, let device = try await store.device(id), device.status != .active {
            throw AttestationRefusal(
                .conflict,
                "device \(id) is \(device.status.rawValue): act on the device its machine is enrolled as now (posturectl devices show machine-id:\(device.machineID))"
            )
        }
        let applied: Bool
        switch action {
        case .quarantine, .release:
            applied = try await store.setQuarantine(
                deviceID: id, quarantine: action == .quarantine, actor: caller.actor, reason: reason, at: now)
        case .revoke:
            applied = try await store.revoke(deviceID: id, actor: caller.actor, reason: reason, at: now)
        }
        guard applied else {
            let state =
                switch action {
                case .quarantine: "is already quarantined"
                case .release: "is not quarantined"
                case .revoke: "is already revoked or replaced"
                }
            throw AttestationRefusal(.conflict, "device \(id) \(state); see GET /v1/devices/\(id)")
        }
        // Sudo grants end with the quarantine itself, not only when a collector next evaluates the device: a
        // release that comes first would otherwise leave them in force.
        if action != .release {
            try await VerdictService.endSudoGrants(
                id, why: "\(action == .quarantine ? "quarantined" : "revoked") by \(caller.actor): \(reason)",
                actor: caller.actor, store: store, logger: running?.logger, now: now)
        }
        await running?.verdicts.tick()
        return try await detail(id, attestations: 0)
    }

    /// A TPM device's newest verified boot becomes its measured-boot baseline (after a firmware or kernel
    /// update), audited with the values accepted.
    public func acceptBoot(_ lookup: String, reason: String?, by caller: Caller) async throws -> DeviceDetail {
        try caller.require(Self.write)
        let reason = try Self.validReason(reason)
        let id = try await resolve(lookup)
        guard let device = try await store.device(id), device.keyProtection == .tpm else {
            throw AttestationRefusal(
                .conflict, "device \(id) did not enroll with a TPM: it has no measured boot to accept")
        }
        guard case .observed(let tpm, _)? = try await store.latestReport(deviceID: id)?.attestation.report.tpm,
            let pcrs = tpm.pcrs, MeasuredBoot.canonical(pcrs) != nil
        else {
            throw AttestationRefusal(
                .conflict,
                "device \(id) has sent no quote yet; accept its boot once it has reported (GET /v1/devices/\(id))")
        }
        guard
            try await store.acceptBoot(
                deviceID: id, baseline: pcrs, actor: caller.actor, reason: reason, at: Date())
        else {
            throw AttestationRefusal(.conflict, "device \(id) is not active; see GET /v1/devices/\(id)")
        }
        await running?.verdicts.tick()
        return try await detail(id, attestations: 0)
    }

    public func createWaiver(_ request: WaiverRequest, by caller: Caller) async throws -> Waiver {
        try caller.require(Self.write)
        // The request as a whole first (a malformed one is 400 whatever it names), then the device it names.
        var waiver = try request.waiver(by: caller.actor, now: Date())
        if let device = waiver.deviceID { waiver.deviceID = try await resolve(device) }
        try await store.insertWaiver(waiver)
        await running?.verdicts.tick()
        return waiver
    }

    public func revokeWaiver(_ id: String, reason: String?, by caller: Caller) async throws -> Waiver {
        try caller.require(Self.write)
        let reason = try Self.validReason(reason)
        guard try await store.revokeWaiver(id: id, actor: caller.actor, reason: reason, at: Date()),
            let waiver = try await store.waivers().first(where: { $0.id == id })
        else { throw AttestationRefusal(.notFound, "no active waiver \(id); see GET /v1/waivers") }
        await running?.verdicts.tick()
        return waiver
    }

    /// Pauses, disables or enables a receiver's stream; the receiver is told before a pause takes effect.
    func setStreamStatus(_ id: String, to status: String?, reason: String?, by caller: Caller) async throws
        -> OperatorStreamView
    {
        try caller.require(Self.write)
        let transmitter = try transmitter()
        guard let stream = await transmitter.stream(id) else {
            throw AttestationRefusal(.notFound, "no stream \(id); list them with GET /v1/ssf/streams")
        }
        guard let status, StreamStatus.values.contains(status) else {
            throw AttestationRefusal(
                .malformedRequest, "status must be one of \(StreamStatus.values.joined(separator: ", "))")
        }
        let reason = try Self.validReason(reason)
        let updated = try await transmitter.operatorSetStatus(stream, to: status, reason: reason)
        try await store.recordOperatorAction(
            OperatorAction(
                at: Date(), actor: caller.actor, action: "ssf-stream-\(status)", deviceID: nil, target: id,
                reason: reason))
        return OperatorStreamView(updated)
    }

    // MARK: Credentials (admin)

    public func enrollmentTokens(limit: Int? = nil, cursor: String? = nil, by caller: Caller) async throws
        -> EnrollmentTokenPage
    {
        try caller.require(Self.admin)
        let page = try ListPage(
            try await store.tokens().map(EnrollmentTokenView.init), created: \.createdAt, id: \.id, limit: limit,
            cursor: cursor)
        return EnrollmentTokenPage(tokens: page.items, nextCursor: page.nextCursor)
    }

    public func createEnrollmentToken(_ request: EnrollmentTokenRequest, by caller: Caller) async throws
        -> CreatedSecret
    {
        try caller.require(Self.admin)
        let now = Date()
        let created = EnrollmentTokens.create(
            reusable: request.reusable ?? false, allowReenroll: request.allowReenroll ?? false,
            ttl: try request.lifetime(), labels: request.labels ?? [:], now: now)
        try await store.insertToken(
            created.record,
            recording: OperatorAction(
                at: now, actor: caller.actor, action: "enrollment-token-create", deviceID: nil,
                target: created.record.id,
                reason: try request.reason.map { try Self.validReason($0) } ?? "created over the API"))
        return CreatedSecret(id: created.record.id, token: created.token, expiresAt: created.record.expiresAt)
    }

    public func apiTokens(limit: Int? = nil, cursor: String? = nil, by caller: Caller) async throws -> APITokenPage {
        try caller.require(Self.admin)
        let page = try ListPage(
            try await store.apiTokens().map(APITokenView.init), created: \.createdAt, id: \.id, limit: limit,
            cursor: cursor)
        return APITokenPage(tokens: page.items, nextCursor: page.nextCursor)
    }

    public func createAPIToken(_ request: APITokenRequest, by caller: Caller) async throws -> CreatedSecret {
        try caller.require(Self.admin)
        let now = Date()
        let (secret, record) = APITokens.create(
            name: try request.validName(), scopes: try request.validScopes(), ttl: try request.lifetime(), now: now)
        try await store.insertAPIToken(
            record,
            recording: OperatorAction(
                at: now, actor: caller.actor, action: "apitoken-create", deviceID: nil, target: record.id,
                reason: "\(record.name): \(record.scopes.joined(separator: " "))"))
        return CreatedSecret(id: record.id, token: secret, expiresAt: record.expiresAt)
    }

    public func revokeAPIToken(_ id: String, reason: String?, by caller: Caller) async throws -> APITokenView {
        try caller.require(Self.admin)
        let action = OperatorAction(
            at: Date(), actor: caller.actor, action: "apitoken-revoke", deviceID: nil, target: id,
            reason: try Self.validReason(reason))
        guard try await store.revokeAPIToken(id: id, at: action.at, recording: action),
            let revoked = try await store.apiTokens().first(where: { $0.id == id })
        else { throw AttestationRefusal(.notFound, "no active API token \(id); see GET /v1/api-tokens") }
        running?.apiTokens.withLockedValue { $0 = [:] }
        return APITokenView(revoked)
    }

    // MARK: -

    /// Why, for the audit trail: 1 to 1000 characters.
    public static func validReason(_ reason: String?) throws(AttestationRefusal) -> String {
        guard let reason = reason?.trimmingWhitespace(), !reason.isEmpty, reason.unicodeScalars.count <= 1000 else {
            throw AttestationRefusal(
                .malformedRequest, "send {\"reason\": \"…\"}: why, 1 to 1000 characters (recorded in the audit trail)")
        }
        return reason
    }

    /// The transmitter of the running collector: streams are managed where their SETs are sent.
    private func transmitter() throws(AttestationRefusal) -> SignalTransmitter {
        guard let running else {
            throw AttestationRefusal(
                .conflict, "Shared Signals streams are managed through a running collector: use posturectl or the API")
        }
        return running.transmitter
    }

    /// The verdict as the running collector holds it, or as it last stored it.
    private func verdict(_ id: String) async throws -> Verdict? {
        if let running { return await running.verdicts.verdict(id) }
        guard let stored = try await store.verdicts().first(where: { $0.deviceID == id }) else { return nil }
        return try? PostureReport.wireDecoder().decode(Verdict.self, from: Data(stored.verdict.utf8))
    }

    private func detail(_ id: String, attestations limit: Int) async throws -> DeviceDetail {
        guard let view = try await store.deviceView(id), let row = try await store.fleetDevice(id)
        else { throw AttestationRefusal(.notFound, "no device \(id)") }
        var payload = view.latestPayload.flatMap {
            try? PostureReport.wireDecoder().decode(AttestationPayload.self, from: Data($0.utf8))
        }
        // A TPM device's PCRs were verified by a quote when the report was accepted; the event log is
        // summarised here (replayed or why not), not sent whole.
        var boot: DeviceDetail.BootInfo?
        if view.device.keyProtection == .tpm, let report = payload?.report,
            let measured = MeasuredBoot(reported: report)
        {
            boot = DeviceDetail.BootInfo(measured, baseline: view.device.tpm?.bootBaseline)
        }
        if let tpm = payload?.report.tpm { payload?.report.tpm = tpm.withoutEventLog }
        let changes = try await store.verdictChanges(deviceID: id, limit: 100).map {
            DeviceDetail.Change(at: $0.at, previousStatus: $0.previousStatus, status: $0.status, cause: $0.cause)
        }
        let events = try await store.securityEvents(SecurityEventQuery(deviceID: id, limit: 200))
        return DeviceDetail(
            device: row, verdict: try await verdict(id), report: payload?.report,
            reportIssuedAt: payload?.issuedAt, verdictChanges: changes,
            attestations: limit == 0 ? [] : try await store.attestations(deviceID: id, limit: limit),
            enforcement: events.filter { $0.code.hasPrefix("enforcement.") },
            refusals: events.filter { !$0.code.hasPrefix("enforcement.") },
            certificates: try await store.certificates(deviceID: id).map {
                DeviceDetail.Certificate(serial: $0.serial, notBefore: $0.notBefore, notAfter: $0.notAfter)
            },
            key: DeviceDetail.KeyInfo(
                protection: view.device.keyProtection.rawValue,
                endorsementFingerprint: view.device.tpm?.endorsementFingerprint,
                tpmFirmware: view.device.tpm.map { "0x" + String($0.firmwareVersion, radix: 16) }),
            boot: boot, maturity: try await maturity(id, now: Date()))
    }
}

/// Who asks: an API token or client certificate, over the API or through the dashboard; or an operator on
/// the collector's host with the offline tool.
public struct Caller: Sendable {
    /// Who a write is recorded as: `apitoken:NAME`, with `(dashboard)` after it from the dashboard.
    public let actor: String
    let credential: String
    let scopes: [String]

    init(token: APITokenRecord, via: String? = nil) {
        actor = via.map { "\(token.actor) (\($0))" } ?? token.actor
        credential = "the API token \(token.name)"
        scopes = token.scopes
    }

    /// The offline tool's operator: who can read the store can write it, so every scope.
    public static func local(_ who: String) -> Caller { Caller(actor: who, credential: who, scopes: ["admin"]) }

    private init(actor: String, credential: String, scopes: [String]) {
        self.actor = actor
        self.credential = credential
        self.scopes = scopes
    }

    func require(_ scope: String) throws(AttestationRefusal) {
        guard scopes.contains(scope) || scopes.contains("admin") else {
            throw AttestationRefusal(
                .insufficientScope,
                "\(credential) lacks scope \(scope) (it has \(scopes.joined(separator: " "))); create one with --scope \(scope)"
            )
        }
    }

    /// Set by `APIAuthentication` for the API's generated handlers.
    @TaskLocal static var current: Caller?
}

extension APITokenRecord {
    /// Who an API write is recorded as.
    var actor: String { "apitoken:\(name)" }

    /// `admin` is every scope.
    func allows(_ scope: String) -> Bool { scopes.contains(scope) || scopes.contains("admin") }
}

/// Runs one audit verification at a time; callers that arrive meanwhile share its result.
actor AuditChecks {
    private var running: Task<AuditVerification, any Error>?

    func verify(_ store: any PostureStore) async throws -> AuditVerification {
        if let running { return try await running.value }
        let task = Task { try await store.verifyAuditTrail() }
        running = task
        let result = await task.result
        running = nil
        return try result.get()
    }
}
