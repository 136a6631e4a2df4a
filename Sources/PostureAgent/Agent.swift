import Logging
import PostureClient
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
    public var access = AccessOptions()
    /// The TCTI of the TPM holding the device key, when it moved (agent.yaml `tpm`); nil: enrollment's.
    public var tpm: String?
    /// The firmware's boot event log, sent with each quote (agent.yaml `tpmEventLog`).
    public var tpmEventLog = AgentConfiguration.kernelEventLog

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
    let state: AgentState
    let options: AgentOptions
    let logger: Logger
    let spool: Spool
    let key: DeviceKey
    /// The report's `tpm` fact, read once at start (the TPM does not change under a running agent).
    let tpmFact: Fact<TPMFacts>
    /// A TPM-held key: the attestation key is loaded and every report carries a quote of the boot PCRs.
    let quotes: Bool
    /// The firmware's event log (base64) or why there is none: read once, since it is fixed for the boot the
    /// agent runs in.
    let bootEventLog: (log: String?, unavailable: String?)
    /// What enrollment established (read once, at start).
    public nonisolated let enrollment: AgentState.Enrollment
    var client: CollectorClient
    var certificate: Certificate
    var lastSequence: UInt64
    var gatheredCursor: String?
    /// Since when each pending security fix has been offered (`pending-updates.json`, read once at start;
    /// kept in step with the file).
    var pendingSince: [String: Date]
    var collectorWasUnavailable = false
    /// Waits between deliveries the collector answered 429 to (Retry-After plus full jitter).
    var busyBackoff = Backoff(cap: 60)
    /// While a clock-dependent refusal holds the spool: when to try again, and its backoff.
    var heldUntil: ContinuousClock.Instant?
    /// The hold in `held.json`, if any (read once at start; kept in step with the file).
    var held: Spool.Hold?
    var holdBackoff = Backoff(initial: 2, cap: 60)
    var holdLoggedAt: ContinuousClock.Instant?
    var verdict: Verdict?
    /// Ask the collector for this device's sudo grants at the next refresh: a request waits for an
    /// operator, or a drop-in was just removed here (so the collector records why).
    var sudoFollow = false
    /// Counts sudo drop-in removals: a reconcile that began before one installs nothing from its (older) list.
    var sudoGeneration = 0
    var verifier: VerdictVerifier?
    /// When the keys were last fetched because a verdict named an unknown key: at most once a minute.
    var keysFetchedAt: Date?
    let enforcer: Enforcer?
    /// The newest verified verdict (revision, issue time): an older one is a replay.
    var lastVerified: VerdictMark?
    let verdictUpdates: AsyncStream<Verdict>.Continuation
    /// Every verdict change, as soon as the collector reports it (the enforcement's input).
    public nonisolated let verdicts: AsyncStream<Verdict>

    public init(state: AgentState, options: AgentOptions, logger: Logger) throws {
        self.state = state
        self.options = options
        self.logger = logger
        enrollment = try state.requireEnrollment()
        try state.prepare()
        spool = Spool(directory: state.spoolDirectory, capacity: options.spoolCapacity)
        key = try DeviceKey.load(state: state, enrollment: enrollment, tcti: options.tpm)
        tpmFact = key.fact(root: options.root)
        quotes = key.loadAttestationKey(logger: logger)
        bootEventLog = quotes ? Self.eventLog(options) : (nil, nil)
        (client, certificate) = try Self.makeClient(state: state, enrollment: enrollment, key: key)
        // Never reuse a sequence number: the spool may hold one the sequence file has not seen yet.
        let spooled = try spool.sequences()
        let spool = self.spool
        lastSequence = max(try state.lastSequence(), spooled.last ?? 0)
        held = try spool.hold()
        pendingSince = state.pendingSince()
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

    static func makeClient(state: AgentState, enrollment: AgentState.Enrollment, key: DeviceKey) throws -> (
        CollectorClient, Certificate
    ) {
        guard let certificatePEM = try state.readText(state.certificatePath),
            let caPEM = try state.readText(state.caPath), let certificate = try? Certificate(pemEncoded: certificatePEM)
        else {
            throw AgentError(
                .notEnrolled,
                "the state directory \(state.directory) lacks device.crt or ca.crt; enroll again")
        }
        let client = try CollectorClient(
            baseURLs: enrollment.devicesURLs ?? [enrollment.devicesURL], trust: .ca(caPEM),
            certificate: try key.clientCertificate(certificatePEM))
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
        await withTaskGroup(of: Void.self) { watching in
            // A one-shot run (--count) delivers and stops; only the daemon watches its verdict, beside
            // gathering and delivery, until they end.
            if options.count == nil {
                watching.addTask { await self.watchVerdict() }
                watching.addTask { await self.serveAccess() }
                watching.addTask { await self.keepRevokedKeys() }
                watching.addTask { await self.keepSudoGrants() }
            }
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
            watching.cancelAll()
        }
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
                try await gatherAndSpool()
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

    /// Past half its lifetime the certificate is renewed over mutual TLS, keeping the device key.
    func renewIfDue() async {
        let notBefore = certificate.notValidBefore
        let half = notBefore.addingTimeInterval(certificate.notValidAfter.timeIntervalSince(notBefore) / 2)
        guard Date() >= half else { return }
        do {
            let request = RenewalRequest(csr: try key.csr(hostname: currentHostname()))
            switch await client.postJSON("/v1/renew", request, answer: CertificateGrant.self) {
            case .accepted(let grant):
                try state.writeText(grant.certificate, state.certificatePath)
                try state.save(grant.nonce)
                // Rotated keys or a new CA bundle reach the fleet this way: no re-enrollment.
                adopt(verdictKeys: grant.verdictKeys, caBundle: grant.caBundle, from: "certificate renewal")
                let old = client
                (client, certificate) = try Self.makeClient(state: state, enrollment: enrollment, key: key)
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
