import Logging
import PostureLinux
import PostureModel
import PostureProbes
import ServiceLifecycle
import X509

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

public struct AgentOptions: Sendable {
    /// Time between reports; each wait is shortened or lengthened by up to `jitter` of it, so a fleet
    /// restarted together does not report in lockstep.
    public var interval: Duration = .seconds(60)
    public var jitter: Double = 0.1
    /// Spooled reports kept while the collector is unreachable; beyond it the oldest are dropped and counted.
    public var spoolCapacity: Int = 10_000
    /// Stop after this many reports (and one last delivery attempt); nil runs until SIGTERM.
    public var count: Int?
    public var root = HostRoot()
    /// Journal source; nil reads the system journal.
    public var journalSource: JournalSource?
    public var enforcement = EnforcementOptions()

    public init() {}
}

/// The daemon (`postured run`): every interval gather facts, sign them, spool them durably, deliver the
/// spool oldest first over mutual TLS, and renew the certificate past half its life.
///
/// ```mermaid
/// stateDiagram-v2
///     [*] --> Gather
///     Gather --> Spool: sign (ES256, device key)
///     Spool --> Deliver
///     Deliver --> Deliver: accepted (next nonce, cursor saved, entry removed)
///     Deliver --> Resign: nonce expired / unknown / stale
///     Resign --> Deliver
///     Deliver --> Wait: spool empty, or collector unreachable / 5xx (entries kept)
///     Wait --> Gather: interval ± jitter
///     Wait --> [*]: SIGTERM
/// ```
public actor Agent: Service {
    private let state: AgentState
    private let options: AgentOptions
    private let logger: Logger
    private let spool: Spool
    private let key: SoftwareSigningKey
    /// What enrollment established (read once, at start).
    public nonisolated let enrollment: AgentState.Enrollment
    private var client: CollectorClient
    private var certificate: Certificate
    private var lastSequence: UInt64
    private var gatheredCursor: String?
    private var collectorWasUnavailable = false
    /// Waits between deliveries the collector answered 429 to (Retry-After plus full jitter).
    private var busyBackoff = Backoff(cap: 60)
    /// While a clock-dependent refusal holds the spool: when to try again, and its backoff.
    private var heldUntil: ContinuousClock.Instant?
    private var holdBackoff = Backoff(initial: 2, cap: 60)
    private var holdLoggedAt: ContinuousClock.Instant?
    private var verdict: Verdict?
    private var verifier: VerdictVerifier?
    /// When the keys were last fetched because a verdict named an unknown key: at most once a minute.
    private var keysFetchedAt: Date?
    private let enforcer: Enforcer?
    /// The newest verified verdict (revision, issue time): an older one is a replay.
    private var lastVerified: VerdictMark?
    private let verdictUpdates: AsyncStream<Verdict>.Continuation
    /// Every verdict change, as soon as the collector reports it (the enforcement's input).
    public nonisolated let verdicts: AsyncStream<Verdict>

    public init(state: AgentState, options: AgentOptions, logger: Logger) throws {
        self.state = state
        self.options = options
        self.logger = logger
        enrollment = try state.requireEnrollment()
        try state.prepare()
        spool = Spool(directory: state.spoolDirectory, capacity: options.spoolCapacity)
        key = try DeviceKeyFile.loadOrCreate(state.keyPath)
        (client, certificate) = try Self.makeClient(state: state, enrollment: enrollment)
        // Never reuse a sequence number: the spool may hold one the sequence file has not seen yet.
        let spooled = try spool.sequences()
        let spool = self.spool
        lastSequence = max(try state.lastSequence(), spooled.last ?? 0)
        gatheredCursor = try spooled.last.flatMap { try spool.entry($0)?.journalCursor } ?? state.acceptedCursor()
        verdict = try? state.verdict()
        // Replay protection survives restarts: the newest verdict acted on is saved with the enforcement state.
        let enrolledID = enrollment.deviceID
        lastVerified = Enforcer.State.load(from: state.enforcementPath)?.verdictMark.flatMap {
            $0.deviceID == enrolledID ? $0 : nil
        }
        let deviceID = enrollment.deviceID
        let verifier = try? state.readText(state.verdictKeysPath).flatMap { keys in
            try VerdictVerifier(jwks: keys, deviceID: deviceID)
        }
        self.verifier = verifier
        enforcer =
            options.enforcement.mode == .off
            ? nil
            : Enforcer(
                options: options.enforcement, logins: LogindClient(), statePath: state.enforcementPath, logger: logger)
        if enforcer != nil && verifier == nil {
            throw AgentError(
                .notEnrolled,
                "enforcement needs the collector's verdict keys (\(state.verdictKeysPath)), saved at enrollment; enroll again with --force"
            )
        }
        (verdicts, verdictUpdates) = AsyncStream.makeStream(of: Verdict.self, bufferingPolicy: .bufferingNewest(16))
    }

    static func makeClient(state: AgentState, enrollment: AgentState.Enrollment) throws -> (
        CollectorClient, Certificate
    ) {
        guard let certificatePEM = try state.readText(state.certificatePath),
            let keyPEM = try state.readText(state.keyPath),
            let caPEM = try state.readText(state.caPath), let certificate = try? Certificate(pemEncoded: certificatePEM)
        else {
            throw AgentError(
                .notEnrolled,
                "the state directory \(state.directory) lacks device.crt, device.key or ca.crt; enroll again")
        }
        let client = try CollectorClient(
            baseURL: enrollment.devicesURL, caPEM: caPEM, identity: (certificatePEM, keyPEM))
        return (client, certificate)
    }

    /// Puts back what the last verdict required (after a reboot emptied /run): before the agent reports
    /// ready, so that logins stay blocked from the moment sshd and the gettys accept them.
    public func reestablish() async { await enforcer?.reestablish() }

    /// Answers as soon as the actor is free: the watchdog's proof that the agent is not wedged.
    public func isResponsive() -> Bool { true }

    public func run() async throws {
        logger.notice(
            "agent started",
            metadata: [
                "posture.event": "agent-started", "posture.device": "\(enrollment.deviceID)",
                "posture.collector": "\(enrollment.devicesURL)",
            ])
        // Gathering keeps its schedule while delivery waits on a slow or absent collector: two loops,
        // the gatherer waking the deliverer after each spooled report.
        let (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        // A one-shot run (--count) delivers and stops; only the daemon watches its verdict.
        let watcher = Task { if options.count == nil { await self.watchVerdict() } }
        defer { watcher.cancel() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in wakeups {
                    await self.deliver()
                    await self.renewIfDue()
                }
            }
            await gatherLoop(wake: wake)
            wake.finish()
            await group.waitForAll()
        }
        watcher.cancel()
        await watcher.value
        verdictUpdates.finish()
        await client.shutdown()
        let left = (try? spool.sequences().count) ?? 0
        logger.notice(
            "agent stopped",
            metadata: [
                "posture.event": "agent-stopped", "posture.spooled": "\(left)", "posture.sequence": "\(lastSequence)",
            ])
    }

    private func gatherLoop(wake: AsyncStream<Void>.Continuation) async {
        var produced = 0
        while !Task.isShuttingDownGracefully {
            do {
                try gatherAndSpool()
            } catch {
                logger.error("could not gather or spool a report: \(error)")
            }
            wake.yield()
            produced += 1
            if let count = options.count, produced >= count { return }
            let seconds =
                Double(options.interval.components.seconds) + Double(options.interval.components.attoseconds) / 1e18
            let factor = 1 + Double.random(in: -options.jitter...options.jitter)
            try? await cancelWhenGracefulShutdown {
                try await Task.sleep(for: .milliseconds(Int64(seconds * factor * 1000)))
            }
        }
    }

    /// Long-polls the collector for this device's verdict, so a change (an operator's quarantine, a
    /// waiver ending, a policy change) reaches the endpoint within a second, not at the next report.
    private func watchVerdict() async {
        var backoff = Backoff(cap: 60)
        var refusedBackoff = Backoff(cap: 60)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            var headers: [(String, String)] = []
            if let version = verdict?.version { headers.append(("If-None-Match", "\"\(version)\"")) }
            switch await client.get("/v1/verdict?wait=25s", headers: headers, timeout: .seconds(35)) {
            case .accepted(let bytes):
                backoff.reset()
                // Empty: unchanged for the whole wait (304).
                guard !bytes.isEmpty else { continue }
                let known = verdict?.version
                if let answer = try? PostureReport.wireDecoder().decode(VerdictAnswer.self, from: Data(bytes)),
                    let verdict = answer.verdict, await learned(verdict, jwt: answer.jwt, from: "long-poll")
                {
                    // The same version at once: the server did not wait on If-None-Match. Do not spin on it.
                    if verdict.version == known {
                        try? await Task.sleep(for: refusedBackoff.next())
                    } else {
                        refusedBackoff.reset()
                    }
                } else {
                    // A refused (or unreadable) verdict comes straight back from the next long-poll, its version
                    // not ours: wait, so a refusal costs a log line a minute, not a busy loop.
                    try? await Task.sleep(for: refusedBackoff.next())
                }
            case .refused(let error, _):
                logger.warning("the collector refused the verdict long-poll: \(error.message)")
                try? await Task.sleep(for: backoff.next())
            case .busy(_, let retryAfter):
                try? await Task.sleep(for: backoff.next(atLeast: retryAfter))
            case .unavailable:
                await enforcer?.collectorUnreachable()
                await reportEnforcement()
                try? await Task.sleep(for: backoff.next())
            }
        }
    }

    /// Records a verdict the collector gave; a change is saved, logged and handed to `verdicts`. Enforcement
    /// acts only on the signed form, verified against the keys pinned at enrollment.
    /// Returns false when the verdict was refused.
    @discardableResult
    private func learned(_ new: Verdict, jwt: String?, from source: String) async -> Bool {
        var verified: VerifiedVerdict?
        if verifier != nil, let jwt {
            do {
                verified = try await verify(jwt)
            } catch {
                logger.warning(
                    "verdict refused, not acted on: \(error.message)",
                    metadata: ["posture.code": "\(error.code)", "posture.source": "\(source)"])
                return false
            }
        }
        if verifier != nil && verified == nil {
            // Keys are pinned: an unsigned verdict is not shown as this device's, nor saved over verdict.json.
            logger.warning(
                "verdict without a signature, ignoring it", metadata: ["posture.source": "\(source)"])
            return false
        }
        if let verified {
            let newest = verified.mark(now: Date(), leeway: verifier?.leeway ?? 60)
            let mark = lastVerified?.merged(with: newest) ?? newest
            lastVerified = mark
            await enforcer?.remember(mark)
        }
        if new.version != verdict?.version {
            let previous = verdict?.status
            verdict = new
            do {
                try state.save(new)
            } catch {
                logger.error("cannot save the verdict to \(state.verdictPath): \(error)")
            }
            logger.notice(
                "verdict \(previous?.rawValue ?? "none") -> \(new.status.rawValue)",
                metadata: [
                    "posture.event": "agent-verdict-changed", "posture.source": "\(source)",
                    "posture.failing": "\(new.failing.map(\.rule).joined(separator: ","))",
                    "posture.risk": "\(new.risk)", "posture.quarantine": "\(new.quarantine?.reason ?? "-")",
                    "posture.signed": "\(verified != nil)",
                ])
            verdictUpdates.yield(new)
            if enforcer != nil && verified == nil {
                logger.warning("no signed verdict to act on (\(source)); enforcement unchanged")
            }
        }
        // Every verified verdict is applied, changed or not (a no-op when nothing changed): new sessions
        // and failed steps are retried with each report.
        if let enforcer, let verified {
            await enforcer.apply(
                status: verified.status, failing: verified.failingRules, quarantine: verified.quarantine)
            await reportEnforcement()
        }
        return true
    }

    /// Verifies a signed verdict; one signed by a key this agent does not know yet (the collector rotated
    /// its keys) sends it for the collector's current keys, at most once a minute, and tries again.
    private func verify(_ jwt: String) async throws(AttestationRefusal) -> VerifiedVerdict? {
        guard let verifier else { return nil }
        do {
            return try verifier.verify(jwt, now: Date(), notBefore: lastVerified)
        } catch let error
            where error.code == .keyMismatch && (keysFetchedAt.map { Date().timeIntervalSince($0) > 60 } ?? true)
        {
            keysFetchedAt = Date()
            guard case .accepted(let material) = await client.getJSON("/v1/keys", answer: TrustMaterial.self) else {
                throw error
            }
            adopt(verdictKeys: material.verdictKeys, caBundle: material.caBundle, from: "GET /v1/keys")
            guard let verifier = self.verifier else { throw error }
            return try verifier.verify(jwt, now: Date(), notBefore: lastVerified)
        }
    }

    /// Takes the collector's current verdict keys and CA bundle (renewal, or a key it did not know): saved,
    /// and used from the next verdict and the next connection. A key set that does not parse is ignored.
    private func adopt(verdictKeys: String?, caBundle: String?, from source: String) {
        if let verdictKeys, verdictKeys != (try? state.readText(state.verdictKeysPath)) {
            do {
                let next = try VerdictVerifier(jwks: verdictKeys, deviceID: enrollment.deviceID)
                try state.writeText(verdictKeys, state.verdictKeysPath)
                verifier = next
                logger.notice(
                    "verdict keys updated",
                    metadata: ["posture.event": "verdict-keys-updated", "posture.source": "\(source)"])
            } catch {
                logger.error("verdict keys from \(source) not taken, ignoring: \(error)")
            }
        }
        if let caBundle, !caBundle.isEmpty, caBundle != (try? state.readText(state.caPath)) {
            do {
                try state.writeText(caBundle, state.caPath)
                logger.notice("CA bundle updated", metadata: ["posture.source": "\(source)"])
            } catch {
                logger.error("CA bundle from \(source) not saved, ignoring: \(error)")
            }
        }
    }

    /// Sends the enforcer's new records to the collector, which keeps them in the device's history.
    /// Unsent ones stay and go with the next verdict.
    private func reportEnforcement() async {
        guard let enforcer else { return }
        let records = await enforcer.unreported()
        guard !records.isEmpty, let body = try? PostureReport.wireEncoder().encode(records) else { return }
        if case .accepted = await client.post("/v1/enforcement", body: Array(body), contentType: "application/json") {
            await enforcer.markReported(records.count)
        }
    }

    /// One report: facts after the last gathered journal cursor, signed with the newest nonce.
    func gatherAndSpool() throws {
        let now = Date()
        var journal = JournalOptions(source: options.journalSource, afterCursor: gatheredCursor)
        journal.notableLimit = 100
        let report = ReportCollector().collect(in: ProbeContext(root: options.root, now: now, journal: journal))
        let sequence = lastSequence + 1
        // The sequence is durable before anything carries it.
        try state.saveSequence(sequence)
        lastSequence = sequence
        let nonce = try state.nonce()?.value ?? ""
        let payload = AttestationPayload(
            deviceID: enrollment.deviceID, sequence: sequence, issuedAt: now, nonce: nonce, spoolGap: try spool.gap(),
            report: report)
        var cursor = gatheredCursor
        if case .observed(let facts, _) = report.journal, let end = facts.cursor { cursor = end }
        let entry = Spool.Entry(payload: payload, jws: try sign(payload), journalCursor: cursor)
        let dropped = try spool.append(entry)
        if dropped > 0 {
            logger.error(
                "spool full: dropped the oldest reports; the gap is reported to the collector",
                metadata: ["posture.dropped": "\(dropped)", "posture.capacity": "\(options.spoolCapacity)"])
        }
        gatheredCursor = cursor
    }

    private func sign(_ payload: AttestationPayload) throws -> String {
        try CompactJWS.sign(payload: try PostureReport.wireEncoder().encode(payload), with: key).compact
    }

    /// Delivers the spool oldest first until it is empty or the collector cannot take more now.
    func deliver() async {
        if let heldUntil, ContinuousClock.now < heldUntil { return }
        do {
            for sequence in try spool.sequences() {
                guard var entry = try spool.entry(sequence) else { continue }
                var resigned = false
                delivery: while true {
                    switch await client.post(
                        "/v1/attestations", body: Array(entry.jws.utf8), contentType: "application/jose")
                    {
                    case .accepted(let bytes):
                        let receipt = try PostureReport.wireDecoder().decode(AttestationReceipt.self, from: Data(bytes))
                        try state.save(receipt.nextNonce)
                        if let answer = try? PostureReport.wireDecoder().decode(VerdictAnswer.self, from: Data(bytes)),
                            let verdict = answer.verdict
                        {
                            await learned(verdict, jwt: answer.jwt, from: "attestation \(sequence)")
                        }
                        try delivered(entry)
                        busyBackoff.reset()
                        try releaseHold(at: sequence)
                        if collectorWasUnavailable {
                            logger.notice(
                                "collector reachable again",
                                metadata: ["posture.event": "collector-reachable", "posture.sequence": "\(sequence)"])
                            collectorWasUnavailable = false
                        }
                        break delivery
                    case .refused(let error, let status):
                        if error.error.isCuredByFreshNonce && !resigned {
                            guard
                                case .accepted(let nonce) = await client.getJSON("/v1/nonce", answer: IssuedNonce.self)
                            else {
                                return
                            }
                            try state.save(nonce)
                            entry.payload.nonce = nonce.value
                            entry.payload.issuedAt = Date()
                            entry.jws = try sign(entry.payload)
                            try spool.replace(entry)
                            resigned = true
                            continue delivery
                        }
                        if error.error == .alreadyAccepted {
                            // The collector proves it stored this sequence: its answer was lost (a crash, a cut).
                            logger.notice(
                                "collector already had report \(sequence)", metadata: ["posture.code": "\(error.error)"]
                            )
                            try delivered(entry)
                            break delivery
                        }
                        if error.error.isClockDependent {
                            // A fresh nonce did not cure it: one of the two clocks is wrong. The report waits at the
                            // head of the spool and is signed again at each try until the clocks agree.
                            try hold(entry, error)
                            return
                        }
                        if error.error == .deviceRevoked || error.error == .certificateRequired {
                            logger.error(
                                "the collector refuses this device: \(error.message)",
                                metadata: ["posture.code": "\(error.error)"])
                            return
                        }
                        logger.error(
                            "the collector refused report \(sequence) (\(status) \(error.error): \(error.message)); moved to spool/rejected",
                            metadata: ["posture.event": "report-rejected", "posture.code": "\(error.error)"])
                        try spool.reject(sequence)
                        break delivery
                    case .busy(let reason, let retryAfter):
                        // Busy is not down: wait what it asked plus jitter, then try this report again.
                        logger.info("\(reason); report \(sequence) waits \(retryAfter) plus jitter")
                        let wait = busyBackoff.next(atLeast: retryAfter)
                        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
                        if Task.isShuttingDownGracefully || Task.isCancelled { return }
                        continue delivery
                    case .unavailable(let reason):
                        if !collectorWasUnavailable {
                            logger.warning(
                                "collector unavailable, reports stay in the spool: \(reason)",
                                metadata: [
                                    "posture.event": "collector-unavailable",
                                    "posture.spooled": "\((try? spool.sequences().count) ?? 0)",
                                ])
                            collectorWasUnavailable = true
                        }
                        return
                    }
                }
            }
        } catch {
            logger.error("delivery stopped: \(error)")
        }
    }

    /// Keeps a report the collector refuses for its time at the head of the spool: logged once when the hold
    /// starts (then at most once an hour), tried again with full-jitter backoff, shown by `postured status`.
    private func hold(_ entry: Spool.Entry, _ refusal: ErrorBody) throws {
        let now = Date()
        let previous = try spool.hold()
        let since = previous?.since ?? now
        try spool.saveHold(
            Spool.Hold(sequence: entry.sequence, code: refusal.error, message: refusal.message, since: since))
        let wait = holdBackoff.next()
        heldUntil = ContinuousClock.now + wait
        if previous == nil || holdLoggedAt.map({ ContinuousClock.now - $0 > .seconds(3600) }) ?? true {
            holdLoggedAt = ContinuousClock.now
            logger.warning(
                "the collector refuses report \(entry.sequence) for its time (\(refusal.error): \(refusal.message)); \((try? spool.sequences().count) ?? 0) reports wait in the spool until the clocks agree (check timedatectl here and on the collector)",
                metadata: [
                    "posture.event": "delivery-held", "posture.code": "\(refusal.error)",
                    "posture.sequence": "\(entry.sequence)",
                    "posture.spooled": "\((try? spool.sequences().count) ?? 0)",
                ])
        }
    }

    /// A report was accepted: a hold, if any, is over.
    private func releaseHold(at sequence: UInt64) throws {
        holdBackoff.reset()
        heldUntil = nil
        guard let hold = try spool.hold() else { return }
        try spool.saveHold(nil)
        holdLoggedAt = nil
        logger.notice(
            "the clocks agree again: report \(sequence) accepted after a hold since \(hold.since) (\(hold.code))",
            metadata: ["posture.event": "delivery-resumed", "posture.sequence": "\(sequence)"])
    }

    /// Accepted: the journal cursor advances to this report's end, the entry leaves the spool.
    private func delivered(_ entry: Spool.Entry) throws {
        if let cursor = entry.journalCursor { try state.saveAcceptedCursor(cursor) }
        if let gap = entry.payload.spoolGap { try spool.clearGap(ifEqualTo: gap) }
        try spool.remove(entry.sequence)
    }

    /// Past half its lifetime the certificate is renewed over mutual TLS, keeping the device key.
    func renewIfDue() async {
        let notBefore = certificate.notValidBefore
        let half = notBefore.addingTimeInterval(certificate.notValidAfter.timeIntervalSince(notBefore) / 2)
        guard Date() >= half else { return }
        do {
            let request = RenewalRequest(csr: try DeviceKeyFile.csr(for: key, hostname: currentHostname()))
            switch await client.postJSON("/v1/renew", request, answer: CertificateGrant.self) {
            case .accepted(let grant):
                try state.writeText(grant.certificate, state.certificatePath)
                try state.save(grant.nonce)
                // Rotated keys or a new CA bundle reach the fleet this way: no re-enrollment.
                adopt(verdictKeys: grant.verdictKeys, caBundle: grant.caBundle, from: "certificate renewal")
                let old = client
                (client, certificate) = try Self.makeClient(state: state, enrollment: enrollment)
                await old.shutdown()
                logger.notice(
                    "certificate renewed",
                    metadata: ["posture.event": "certificate-renewed", "posture.not_after": "\(grant.notAfter)"])
            case .refused(let error, _):
                logger.error("certificate renewal refused: \(error.error): \(error.message)")
            case .unavailable(let reason), .busy(let reason, _):
                logger.warning("certificate renewal postponed: \(reason)")
            }
        } catch {
            logger.error("certificate renewal failed: \(error)")
        }
    }
}

/// The verdict part of an attestation receipt or of `GET /v1/verdict`.
struct VerdictAnswer: Decodable {
    var verdict: Verdict?
    var jwt: String?
}
