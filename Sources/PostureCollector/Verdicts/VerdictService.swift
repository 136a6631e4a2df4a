import Logging
import NIOConcurrencyHelpers
import PostureModel
import PostureStore
import PostureVerdict

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Every device's current verdict, kept in memory and in the store. Re-evaluates on each accepted
/// attestation, on policy change, on operator action (quarantine, release, waiver, revocation, read from
/// the store so the command line and other collectors reach it) and when time changes it (a report ages
/// out, a grace period or waiver ends). A change is recorded, wakes long-polling clients and is queued
/// as Security Event Tokens for Shared Signals receivers, in one transaction.
actor VerdictService {
    /// Answers as soon as the actor is free: the watchdog's proof that verdicts are not wedged.
    func isResponsive() -> Bool { true }

    /// Devices loaded and evaluated under the policy: verdicts can be served (`/readyz`).
    private(set) var isStarted = false

    /// How many devices stand at each verdict now (`/metrics`).
    func statusCounts() -> [String: Int] {
        entries.values.reduce(into: [:]) { counts, entry in
            if let status = entry.verdict?.status { counts[status.rawValue, default: 0] += 1 }
        }
    }

    struct Entry {
        var machineID: String
        var hostname: String
        var labels: [String: String]
        /// When its signal history began, for the risk baseline.
        var enrolledAt: Date?
        var keyProtection: KeyProtection = .software
        var revoked: Quarantine?
        var report: PostureReport?
        var issuedAt: Date?
        var signals: [SignalSample] = []
        var verdict: Verdict?
        /// The verdict as last served: signed and encoded once per evaluation.
        var signed: SignedVerdict?
        /// A TPM device's measured-boot baseline (enrollment's quote, or an operator's accept).
        var bootBaseline: [Int: String]?
        /// What the newest report's quote established (its PCRs verified at ingest) and its event log's replay.
        var boot: MeasuredBoot?

        init(_ device: DeviceRecord) {
            machineID = device.machineID
            hostname = device.hostname
            labels = device.labels
            enrolledAt = device.enrolledAt
            keyProtection = device.keyProtection
            bootBaseline = device.tpm?.bootBaseline.map(MeasuredBoot.pcrMap)
        }

        /// The newest report, kept without its event log (tens of kilobytes a device): what the log proves is
        /// `boot`, replayed here when the caller has not (a report read from the store).
        mutating func take(_ report: PostureReport, boot measured: MeasuredBoot?) {
            if keyProtection == .tpm { boot = measured ?? MeasuredBoot(reported: report) ?? boot }
            self.report = report
            self.report?.tpm = report.tpm?.withoutEventLog
        }

        func bootEvidence() -> BootEvidence? {
            keyProtection == .tpm ? BootEvidence(measured: boot, baseline: bootBaseline) : nil
        }

        mutating func dropSignals(before since: Date) { signals.removeAll { $0.at <= since } }

        /// Samples kept one by one; beyond, those older than every counting window are merged by the hour
        /// (the risk baseline weighs them by age, to the hour is enough), so a noisy device's 28 days of
        /// history stay at most 672 hourly samples and the window's own.
        static let exactSamples = 1024

        mutating func coalesceSignals(before exactSince: Date) {
            guard signals.count > Self.exactSamples else { return }
            var hourly: [Double: [JournalEventCategory: Int]] = [:]
            var recent: [SignalSample] = []
            for sample in signals {
                guard sample.at < exactSince else {
                    recent.append(sample)
                    continue
                }
                let hour = (sample.at.timeIntervalSince1970 / 3600).rounded(.down) * 3600
                for (category, count) in sample.counts {
                    hourly[hour, default: [:]][category, default: 0] =
                        hourly[hour]?[category, default: 0].saturatingAdd(count) ?? count
                }
            }
            signals =
                hourly.keys.sorted().map {
                    SignalSample(at: Date(timeIntervalSince1970: $0), counts: hourly[$0] ?? [:])
                }
                + recent
        }

        /// What the policy evaluates for this device: the one place its inputs are put together, for its
        /// verdict and for a what-if (`PolicyPreview`).
        func input(_ id: String, quarantine: Quarantine?, waivers: [Waiver], fleetRates: FleetRates, now: Date)
            -> EvaluationInput
        {
            var input = EvaluationInput(
                deviceID: id, labels: labels, report: report, reportIssuedAt: issuedAt, signals: signals,
                quarantine: revoked ?? quarantine, waivers: waivers, previous: verdict, keyProtection: keyProtection,
                boot: bootEvidence(), now: now)
            input.historySince = enrolledAt
            input.fleetRates = fleetRates.rates(for: labels)
            return input
        }
    }

    /// Every active device's entry without its signal history (what the maturity stages read): no copy of
    /// weeks of samples per device for a fleet summary.
    func entriesWithoutSignals() -> (policy: Policy, entries: [String: Entry]) {
        (
            policy,
            entries.compactMapValues { entry in
                guard entry.revoked == nil else { return nil }
                var bare = entry
                bare.signals = []
                return bare
            }
        )
    }

    /// Every active device's inputs as they stand, for a what-if evaluated off this actor.
    func snapshot(now: Date = Date()) -> (policy: Policy, state: FleetState) {
        var state = FleetState(
            entries: entries.filter { $0.value.revoked == nil }, quarantines: quarantines, waivers: waivers)
        let since = now.addingTimeInterval(-policy.signalWindow.seconds)
        for id in state.entries.keys { state.entries[id]?.dropSignals(before: since) }
        return (policy, state)
    }

    let store: any PostureStore
    let keys: SigningKeys
    private let issuerSource: Issuer
    var issuer: String { issuerSource.value }
    let trustDomain: String
    let policySource: PolicySource
    let logger: Logger
    private let leases: Leases
    var transmitter: SignalTransmitter?
    private(set) var policy: Policy
    private var entries: [String: Entry] = [:]
    private var quarantines: [String: Quarantine] = [:]
    private var waivers: [Waiver] = []
    private var lastActionID: Int64 = 0
    private var waiters: [String: [UUID: CheckedContinuation<Void, Never>]] = [:]

    init(
        store: any PostureStore, keys: SigningKeys, issuer: Issuer, trustDomain: String, policySource: PolicySource,
        logger: Logger
    ) throws {
        self.store = store
        leases = Leases(store: store)
        self.keys = keys
        issuerSource = issuer
        self.trustDomain = trustDomain
        self.policySource = policySource
        self.logger = logger
        policy = try policySource.load()
        _ = policySource.changed()
    }

    /// Attestations and verdict reads wait until every device is loaded and evaluated: before that, an
    /// accepted report could be overtaken by the older one the start reads, and a known device would get
    /// 404. They get 429 with Retry-After instead, which an agent retries with jitter like any overload.
    /// (Returned, not thrown: typed throws across this actor hop is what crashed the release optimizer.)
    func startingRefusal() -> AttestationRefusal? {
        isStarted
            ? nil
            : AttestationRefusal(
                .overloaded,
                "the collector is starting (loading its devices and evaluating the policy); retry after Retry-After")
    }

    func setTransmitter(_ transmitter: SignalTransmitter) { self.transmitter = transmitter }

    /// Loads devices, newest reports, signals, verdicts and operator state, then evaluates every device.
    func start(now: Date = Date()) async throws {
        let state = try await FleetState.load(
            from: store, signalWindow: policy.signalWindow, exactWindow: policy.longestCountingWindow, now: now,
            logger: logger)
        // A device enrolled while the store was read is kept (its entry came from `enrolled`).
        entries.merge(state.entries) { _, loaded in loaded }
        quarantines = state.quarantines
        waivers = state.waivers
        lastActionID = try await store.lastOperatorActionID()
        // Signed when first asked for (`signedVerdict`), not here: a restart of a large fleet's collector
        // is not held up by a signature per device, and devices that do not ask cost none.
        await evaluateAll(now: now)
        isStarted = true
        logger.notice(
            "verdicts ready",
            metadata: [
                "posture.event": "verdicts-ready", "posture.devices": "\(entries.count)",
                "posture.policy": "\(policy.version)",
            ])
    }

    func enrolled(_ record: DeviceRecord) async {
        // The stored device carries the enrollment token's labels too.
        let device = (try? await store.device(record.id)) ?? record
        entries[device.id] = Entry(device)
        await evaluate(device.id, cause: .enrollment)
    }

    /// An accepted attestation: the device's new facts. Returns the verdict the device gets back.
    func attested(deviceID: String, payload: AttestationPayload, boot: MeasuredBoot? = nil, now: Date = Date()) async
        -> Verdict?
    {
        guard entries[deviceID] != nil else { return nil }
        // Spooled reports arrive oldest first; only a newer one replaces the facts.
        if entries[deviceID]?.issuedAt.map({ payload.issuedAt >= $0 }) ?? true {
            entries[deviceID]?.take(payload.report, boot: boot)
            entries[deviceID]?.issuedAt = payload.issuedAt
        }
        if let sample = Self.sample(payload) { entries[deviceID]?.signals.append(sample) }
        await evaluate(deviceID, cause: .attestation(payload.sequence), now: now)
        return entries[deviceID]?.verdict
    }

    /// The report's journal events, if it counted any: a report without events adds nothing to any sum,
    /// so it is not kept (a quiet device's list stays empty instead of growing by one per attestation).
    static func sample(_ payload: AttestationPayload) -> SignalSample? {
        let counts = (payload.report.journal.value?.counts ?? [:]).filter { $0.value != 0 }
        return counts.isEmpty ? nil : SignalSample(at: payload.issuedAt, counts: counts)
    }

    // MARK: Reading verdicts

    enum Lookup: Equatable, CustomStringConvertible {
        case device(String)
        case machineID(String)
        case hostname(String)
        case certificate(String)

        /// `ID`, `machine-id:HEX`, `hostname:NAME` or `sha256:HEX` (the device certificate's DER).
        init(_ text: String) {
            if text.hasPrefix("machine-id:") {
                self = .machineID(String(text.dropFirst(11)).lowercased())
            } else if text.hasPrefix("hostname:") {
                self = .hostname(String(text.dropFirst(9)))
            } else if text.hasPrefix("sha256:") {
                self = .certificate(String(text.dropFirst(7)).lowercased())
            } else {
                self = .device(text.lowercased())
            }
        }

        var description: String {
            switch self {
            case .device(let id): id
            case .machineID(let machineID): "machine-id:\(machineID)"
            case .hostname(let hostname): "hostname:\(hostname)"
            case .certificate(let fingerprint): "sha256:\(fingerprint)"
            }
        }
    }

    /// The one reading of a device reference, for every route that takes one: exactly one device or a
    /// refusal, never a guess. `hostname:` and `machine-id:` match active (unrevoked) devices only; two
    /// of them answer 409 naming both, so a policy engine is never handed a compliant twin's verdict.
    /// Throws `not_found`, `conflict`, or the store's error when it cannot be read (an internal error).
    func resolve(_ lookup: Lookup) async throws -> String {
        let matches: [String]
        switch lookup {
        case .device(let id):
            matches = entries[id] == nil ? [] : [id]
        case .machineID(let machineID):
            matches = entries.filter { $0.value.revoked == nil && $0.value.machineID == machineID }.map(\.key)
        case .hostname(let hostname):
            matches = entries.filter { $0.value.revoked == nil && $0.value.hostname == hostname }.map(\.key)
        case .certificate(let fingerprint):
            // One indexed read; an unknown certificate (an access proxy asking about any client) costs no more.
            let id = try await store.deviceID(certificateFingerprint: fingerprint)
            matches = id.flatMap { entries[$0] == nil ? nil : [$0] } ?? []
        }
        return try Self.single(matches, for: lookup)
    }

    /// Exactly one device for a reference, or a refusal naming why: never a guess. Untyped `throws`: a typed
    /// one called from the async `resolve` crashed the 6.3 optimizer (LLVM coroutine splitting, -O only).
    static func single(_ matches: [String], for lookup: Lookup) throws -> String {
        guard matches.count <= 1 else {
            throw AttestationRefusal(
                .conflict,
                "\(lookup) names \(matches.count) active devices (\(matches.sorted().prefix(10).joined(separator: ", "))); ask by device ID"
            )
        }
        guard let id = matches.first else {
            throw AttestationRefusal(
                .notFound,
                "no enrolled device \(lookup); use a device ID, hostname:NAME, machine-id:HEX or sha256:HEX (GET /v1/devices lists them)"
            )
        }
        return id
    }

    /// The device's verdict, signed and encoded. A signed verdict is served again while its content is
    /// current and less than half its lifetime has passed, so signing happens on change, not per request
    /// or per attestation.
    func signedVerdict(_ id: String, now: Date = Date()) async -> SignedVerdict? {
        guard let current = entries[id]?.verdict else { return nil }
        if now >= current.evaluatedAt.addingTimeInterval(policy.verdictLifetime.seconds / 2)
            || now >= current.validUntil
        {
            if sharesStore { await refresh(id) }
            await evaluate(id, cause: .time, now: now)
        }
        guard let verdict = entries[id]?.verdict else { return nil }
        if let signed = entries[id]?.signed, signed.version == verdict.version,
            signed.keyID == keys.keyID("ES256", at: now),
            now < signed.verdict.evaluatedAt.addingTimeInterval(policy.verdictLifetime.seconds / 2),
            now < signed.verdict.validUntil
        {
            return signed
        }
        return sign(id, now: now)
    }

    @discardableResult
    private func sign(_ id: String, now: Date) -> SignedVerdict? {
        guard let entry = entries[id], let verdict = entry.verdict else { return nil }
        let jwt = (try? VerdictToken.sign(verdict, entry: entry, service: self, now: now)) ?? ""
        let body = (try? PostureReport.wireEncoder().encode(VerdictAnswer(verdict: verdict, jwt: jwt))) ?? Data()
        let signed = SignedVerdict(
            verdict: verdict, version: verdict.version, jwt: jwt, body: Array(body), keyID: keys.keyID("ES256", at: now)
        )
        entries[id]?.signed = signed
        return signed
    }

    func verdict(_ id: String) -> Verdict? { entries[id]?.verdict }
    func entry(_ id: String) -> Entry? { entries[id] }
    /// What an access request is decided on: the policy in force and the device's current state.
    func accessInputs(_ id: String) -> (Policy, Entry?) { (policy, entries[id]) }

    /// The fleet's usual rates per label set (`RiskBaseline`), worked out again every 5 minutes: a new device's
    /// starting point moves with its peers, not with each report.
    private var fleetRates = FleetRates()
    private var fleetRatesAt: Date?

    private func currentFleetRates(now: Date) -> FleetRates {
        guard let baseline = policy.risk.baseline else { return FleetRates() }
        if let at = fleetRatesAt, now >= at, now.timeIntervalSince(at) < 300 { return fleetRates }
        fleetRates = FleetState.fleetRates(entries.values.filter { $0.revoked == nil }, baseline, now: now)
        fleetRatesAt = now
        return fleetRates
    }

    /// Set at shutdown: held long-polls are answered at once (unchanged) and new ones do not wait.
    private var shuttingDown = false

    /// Ends every held long-poll now and lets no new one wait: a collector told to stop (SIGTERM, an
    /// upgrade) stops in moments, not after the longest `?wait=` its clients asked for.
    func shutDown() {
        shuttingDown = true
        for id in Array(waiters.keys) { wakeAll(id) }
    }

    /// Waits until the device's verdict is no longer `version`, or `timeout` passes. True if it changed.
    func waitForChange(_ id: String, from version: String, timeout: Duration) async -> Bool {
        guard let current = entries[id]?.verdict, current.version == version else { return true }
        guard !shuttingDown else { return false }
        let key = UUID()
        // The timeout is a child task, ended as soon as the verdict changes; a cancelled caller (a client
        // gone) ends it too, and its wake resumes the waiter: nothing outlives the call.
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await Task.sleep(for: timeout)
                await self.wake(id, key)
            }
            // Registered before the actor can run that wake: no suspension point lies between.
            await withCheckedContinuation { continuation in waiters[id, default: [:]][key] = continuation }
            group.cancelAll()
        }
        return entries[id]?.verdict?.version != version
    }

    private func wake(_ id: String, _ key: UUID) {
        waiters[id]?.removeValue(forKey: key)?.resume()
    }

    private func wakeAll(_ id: String) {
        for continuation in (waiters.removeValue(forKey: id) ?? [:]).values { continuation.resume() }
    }

    // MARK: Evaluation

    func evaluate(_ id: String, cause: EvaluationCause, now: Date = Date(), retry: Bool = true) async {
        guard let pending = await prepare(id, cause: cause, now: now) else { return }
        do {
            // Stored only over the verdict this one follows: when another collector of a shared store
            // changed it first, its verdict is taken instead (and evaluated once more with our inputs), so
            // one change is recorded and sent once, not once per collector.
            let saved = try await store.saveVerdict(
                pending.save.verdict, change: pending.save.change, outbox: pending.save.outbox,
                expected: pending.save.expected)
            guard saved else {
                await refresh(id)
                if retry { await evaluate(id, cause: cause, now: now, retry: false) }
                return
            }
        } catch {
            logger.error("cannot store the verdict of \(id): \(error)", metadata: ["posture.device": "\(id)"])
        }
        await served(pending, now: now)
    }

    /// A changed verdict, evaluated and not yet stored.
    struct PendingVerdict {
        let id: String
        let verdict: Verdict
        let previous: Verdict?
        let cause: EvaluationCause
        let save: VerdictSave
    }

    /// Evaluates the device; nil when its verdict's content did not change (the entry then holds the
    /// re-evaluated verdict). A change is returned to be stored: until it is, readers and long-polls see
    /// the verdict before (which stays if another collector's came first).
    private func prepare(_ id: String, cause: EvaluationCause, now: Date) async -> PendingVerdict? {
        guard var entry = entries[id] else { return nil }
        entry.dropSignals(before: now.addingTimeInterval(-policy.signalWindow.seconds))
        entry.coalesceSignals(before: now.addingTimeInterval(-policy.longestCountingWindow.seconds))
        var verdict = policy.evaluate(
            entry.input(
                id, quarantine: quarantines[id], waivers: FleetState.inForce(waivers, at: now),
                fleetRates: currentFleetRates(now: now), now: now))
        let previous = entry.verdict
        // The revision counts changes of content (stored with the verdict, so it survives restarts).
        let changed = verdict.version != previous?.version
        verdict.revision = changed ? (previous?.revision ?? 0) &+ 1 : previous?.revision ?? 1
        guard changed else {
            entry.verdict = verdict
            entries[id] = entry
            return nil
        }
        entries[id] = entry
        entry.verdict = verdict
        let json = String(decoding: (try? PostureReport.wireEncoder().encode(verdict)) ?? Data(), as: UTF8.self)
        let change = VerdictChange(
            deviceID: id, at: now, previousStatus: previous?.status.rawValue, status: verdict.status.rawValue,
            cause: cause.description, verdict: json)
        var outbox: [OutboxEntry] = []
        if let transmitter, previous?.status != verdict.status {
            outbox = await transmitter.events(
                for: verdict, previous: previous?.status, entry: entry, cause: cause, now: now)
        }
        return PendingVerdict(
            id: id, verdict: verdict, previous: previous, cause: cause,
            save: VerdictSave(
                StoredVerdict(
                    deviceID: id, status: verdict.status.rawValue, version: verdict.version, changedAt: now,
                    verdict: json), change: change, outbox: outbox, expected: .version(previous?.version)))
    }

    /// A stored change served: signed, long-polls woken, SETs sent, logged.
    private func served(_ pending: PendingVerdict, now: Date, signNow: Bool = true) async {
        let (id, verdict, previous) = (pending.id, pending.verdict, pending.previous)
        entries[id]?.verdict = verdict
        // At start nobody waits for it: signed when first asked for (`signedVerdict`).
        if signNow { sign(id, now: now) } else { entries[id]?.signed = nil }
        wakeAll(id)
        if !pending.save.outbox.isEmpty { await transmitter?.wake() }
        // Time-bound sudo ends with compliance, in the store at once: a release before the agent next
        // looks must not bring the grant back. (At start the device's next look ends it: no query per device.)
        if previous?.status == .compliant, verdict.status != .compliant {
            if case .start = pending.cause {} else { await endSudoGrants(id, status: verdict.status, now: now) }
        }
        if previous?.status != verdict.status {
            logger.notice(
                "verdict \(previous?.status.rawValue ?? "none") -> \(verdict.status.rawValue)",
                metadata: [
                    "posture.event": "verdict-changed", "posture.device": "\(id)", "posture.cause": "\(pending.cause)",
                    "posture.failing": "\(verdict.failing.map(\.rule).joined(separator: ","))",
                    "posture.risk": "\(verdict.risk)",
                ])
        }
    }

    /// Every device evaluated at start, the changes stored `startBatch` to a transaction: after an outage
    /// longer than the report age, every verdict changes at once, and one fsync per device made a start of
    /// 100,000 devices take minutes.
    private func evaluateAll(now: Date) async {
        var pending: [PendingVerdict] = []
        for id in entries.keys {
            if let change = await prepare(id, cause: .start, now: now) { pending.append(change) }
        }
        for start in stride(from: 0, to: pending.count, by: Self.startBatch) {
            let batch = Array(pending[start..<min(start + Self.startBatch, pending.count)])
            let saved: [Bool]
            do {
                saved = try await store.saveVerdicts(batch.map(\.save))
            } catch {
                logger.error("cannot store \(batch.count) verdicts at start: \(error)")
                saved = Array(repeating: true, count: batch.count)
            }
            for (change, stored) in zip(batch, saved) {
                if stored {
                    await served(change, now: now, signNow: false)
                } else {
                    await refresh(change.id)
                    await evaluate(change.id, cause: .start, now: now, retry: false)
                }
            }
        }
    }

    static let startBatch = 500

    // MARK: Other collectors' changes

    /// Reads the device again from the store, after another collector of a shared store changed it (a
    /// notification) or before a verdict that only time changes: its record, its newest report and its
    /// stored verdict, which becomes the one served (long-polls waiting on the device wake if it changed).
    func refresh(_ id: String) async {
        // Everything is read first; the entry is changed afterwards without a suspension, so a verdict
        // this collector stores meanwhile is not overwritten by an older read.
        guard let device = try? await store.device(id) else { return }
        let latest = try? await store.latestReport(deviceID: id)
        let stored = try? await store.storedVerdict(deviceID: id)
        let decoder = PostureReport.wireDecoder()
        guard
            var entry = entries[id]
                ?? (device.status == .active
                    ? Entry(device) : nil)
        else { return }
        entry.labels = device.labels
        entry.bootBaseline = device.tpm?.bootBaseline.map(MeasuredBoot.pcrMap)
        if let latest, latest.issuedAt > (entry.issuedAt ?? .distantPast),
            (try? PayloadLimits.check(latest.attestation)) != nil
        {
            let attestation = latest.attestation
            entry.take(attestation.report, boot: nil)
            entry.issuedAt = attestation.issuedAt
            if let sample = Self.sample(attestation) { entry.signals.append(sample) }
        }
        let before = entry.verdict?.version
        if let stored, let verdict = try? decoder.decode(Verdict.self, from: Data(stored.verdict.utf8)),
            (verdict.revision ?? 0) >= (entry.verdict?.revision ?? 0)
        {
            entry.verdict = verdict
        }
        entries[id] = entry
        if entry.verdict?.version != before {
            sign(id, now: Date())
            wakeAll(id)
        }
    }

    /// Whether the store is shared with other collectors, whose changes arrive as notifications.
    var sharesStore: Bool { store is any SharedStoreEvents }

    // MARK: Policy and operator actions

    /// Re-reads the policy; a broken file is refused with its file:line and the policy in force stays.
    @discardableResult
    func reloadPolicy(cause: String) async -> Result<Policy, PolicyError> {
        do {
            let loaded = try policySource.load()
            guard loaded.version != policy.version else { return .success(policy) }
            // A policy that looks further back (a baseline turned on, a longer window) is judged on the history
            // the store holds, as a restarted collector would, not on what was kept for the old one.
            if loaded.signalWindow > policy.signalWindow {
                let now = Date()
                var state = FleetState(entries: entries, quarantines: quarantines, waivers: waivers)
                do {
                    try await state.loadSignals(from: store, for: loaded, now: now)
                    // What arrived while the store was read is kept.
                    for (id, loadedEntry) in state.entries {
                        let newest = loadedEntry.signals.last?.at ?? .distantPast
                        let arrived = entries[id]?.signals.filter { $0.at > newest } ?? []
                        entries[id]?.signals = loadedEntry.signals + arrived
                    }
                } catch {
                    logger.error("cannot read the signal history the new policy looks at: \(error)")
                }
            }
            fleetRatesAt = nil
            policy = loaded
            logger.notice(
                "policy \(loaded.version) in force (\(cause))", metadata: ["posture.rules": "\(loaded.rules.count)"])
            for id in entries.keys { await evaluate(id, cause: .policy(loaded.version)) }
            return .success(loaded)
        } catch {
            logger.error(
                "policy refused, the previous policy stays in force: \(error)",
                metadata: ["posture.code": "policy_invalid", "posture.policy": "\(policy.version)"])
            return .failure(error)
        }
    }

    /// Once per tick: operator actions, policy file changes, verdicts that change with time.
    /// The policy file, operator actions (unless `actions` is false: a shared store announces them), and
    /// the verdicts time changes.
    func tick(now: Date = Date(), actions: Bool = true) async {
        if policySource.changed() { await reloadPolicy(cause: "file changed") }
        if actions { await applyActions(now: now) }
        // Verdicts that time changes are evaluated by one collector of a shared store at a time; the others
        // learn the result as it is stored.
        guard await leases.hold("reevaluation", for: .seconds(15), now: now) else { return }
        for (id, entry) in entries {
            guard let due = entry.verdict?.reevaluateAt, due <= now else { continue }
            // Another collector may hold a newer report of the device: read it before time decides.
            if sharesStore { await refresh(id) }
            await evaluate(id, cause: .time, now: now)
        }
    }

    /// Operator actions recorded since the last applied (by the CLI, the API, another collector).
    func applyActions(now: Date = Date()) async {
        if let actions = try? await store.operatorActions(after: lastActionID, limit: 1000), !actions.isEmpty {
            if let last = actions.last { lastActionID = last.id }
            quarantines = (try? await store.quarantines()) ?? quarantines
            waivers = (try? await store.waivers()) ?? waivers
            for action in actions {
                let cause = EvaluationCause.operatorAction(
                    action: action.action, actor: action.actor, reason: action.reason)
                if action.action == "accept-boot", let id = action.deviceID,
                    let device = try? await store.device(id)
                {
                    entries[id]?.bootBaseline = device.tpm?.bootBaseline.map(MeasuredBoot.pcrMap)
                }
                if action.action == "revoke", let id = action.deviceID {
                    entries[id]?.revoked = Quarantine(
                        by: action.actor, reason: "device revoked: \(action.reason)", at: action.at)
                }
                if let id = action.deviceID {
                    await evaluate(id, cause: cause, now: now)
                } else if action.action.hasPrefix("waiver") {
                    for id in entries.keys { await evaluate(id, cause: cause, now: now) }
                }
            }
        }
    }

    var deviceCount: Int { entries.count }
}

/// Where the policy comes from: a file (reloaded when it changes) or the built-in default.
/// The policy file a collector enforces (its configuration's policy.path), or the built-in policy.
public struct PolicySource: Sendable {
    let path: String?

    public init(path: String?) {
        self.path = path
    }

    public func load() throws(PolicyError) -> Policy {
        guard let path else { return Policy() }
        return try PolicyParser.load(path: path)
    }

    /// True when the file's modification time or size differs from the last call's.
    func changed() -> Bool {
        guard let path else { return false }
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        let stamp =
            "\((attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)/\((attributes?[.size] as? Int) ?? -1)"
        return stamps.withLockedValue { last in
            defer { last = stamp }
            return last != nil && last != stamp
        }
    }

    private let stamps = NIOLockedValueBox<String?>(nil)
}

/// A verdict ready to serve: its version (the ETag), its JWT and the encoded JSON response.
struct SignedVerdict: Sendable {
    let verdict: Verdict
    let version: String
    let jwt: String
    let body: [UInt8]
    /// The key that signed it: after a rotation, the next answer is signed again by the new one.
    let keyID: String?
}
