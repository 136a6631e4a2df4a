import Logging
import PostureLinux
import PostureModel
import PostureProbes
import ServiceLifecycle

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Reports: gathered, signed and spooled durably, then delivered oldest first; the agent README's
/// "Durability" section is the contract this code keeps.
extension Agent {
    /// One report: facts after the last gathered journal cursor, signed with the newest nonce.
    func gatherAndSpool() async throws {
        let now = Date()
        var journal = JournalOptions(source: options.journalSource, afterCursor: gatheredCursor)
        journal.notableLimit = 100
        var report = ReportCollector().collect(
            in: ProbeContext(root: options.root, now: now, journal: journal, pendingSince: pendingSince))
        rememberPendingUpdates(report)
        report.tpm = tpmFact
        report.agent = AgentFacts(
            enforcement: options.enforcement.mode.rawValue,
            intervalSeconds: min(86400, max(1, Int(options.interval.components.seconds))))
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
        let entry = Spool.Entry(payload: payload, jws: try await sign(payload), journalCursor: cursor)
        let dropped = try spool.append(entry)
        if dropped > 0 {
            logger.error(
                "spool full: dropped the oldest reports; the gap is reported to the collector",
                metadata: ["posture.dropped": "\(dropped)", "posture.capacity": "\(options.spoolCapacity)"])
        }
        gatheredCursor = cursor
    }

    /// Keeps, for the next report, since when each pending security update has been offered; updates no
    /// longer pending are forgotten. Kept as long as the packages fact is unavailable (nothing was learnt).
    private func rememberPendingUpdates(_ report: PostureReport) {
        guard let packages = report.patches?.packages.value else { return }
        let since = Dictionary(packages.security.map { ($0.key, $0.since) }, uniquingKeysWith: min)
        guard since != pendingSince else { return }
        pendingSince = since
        do {
            try state.savePendingSince(since)
        } catch {
            logger.warning(
                "cannot remember pending security updates; their waits count from the lists' date again",
                metadata: ["posture.error": "\(error)", "posture.path": "\(state.pendingUpdatesPath)"])
        }
    }

    /// Delivers the spool oldest first until it is empty or the collector cannot take more now.
    func deliver() async {
        if let heldUntil, ContinuousClock.now < heldUntil { return }
        do {
            for sequence in try spool.sequences() {
                guard var entry = try spool.entry(sequence) else { continue }
                var resigned = false
                delivery: while true {
                    let schema2 = entry.jws.utf8.contains(UInt8(ascii: "\n"))
                    switch await client.post(
                        "/v1/attestations", body: Array(entry.jws.utf8),
                        contentType: schema2 ? DetachedAttestation.mediaType : "application/jose")
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
                            entry.jws = try await sign(entry.payload)
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
    /// starts (then at most once an hour), tried again with full-jitter backoff, shown by `postured status`
    /// (`held.json`, written when the hold starts or changes, not at every try).
    func hold(_ entry: Spool.Entry, _ refusal: ErrorBody) throws {
        let next = Spool.Hold(
            sequence: entry.sequence, code: refusal.error, message: refusal.message, since: held?.since ?? Date())
        if next != held { try spool.saveHold(next) }
        let starting = held == nil
        held = next
        heldUntil = ContinuousClock.now + holdBackoff.next()
        guard starting || holdLoggedAt.map({ ContinuousClock.now - $0 > .seconds(3600) }) ?? true else { return }
        holdLoggedAt = ContinuousClock.now
        let spooled = (try? spool.sequences().count) ?? 0
        logger.warning(
            "the collector refuses report \(entry.sequence) for its time (\(refusal.error): \(refusal.message)); \(spooled) reports wait in the spool until the clocks agree (check timedatectl here and on the collector)",
            metadata: [
                "posture.event": "delivery-held", "posture.code": "\(refusal.error)",
                "posture.sequence": "\(entry.sequence)", "posture.spooled": "\(spooled)",
            ])
    }

    /// A report was accepted: a hold, if any, is over.
    func releaseHold(at sequence: UInt64) throws {
        holdBackoff.reset()
        heldUntil = nil
        guard let hold = held else { return }
        try spool.saveHold(nil)
        held = nil
        holdLoggedAt = nil
        logger.notice(
            "the clocks agree again: report \(sequence) accepted after a hold since \(hold.since) (\(hold.code))",
            metadata: ["posture.event": "delivery-resumed", "posture.sequence": "\(sequence)"])
    }

    /// Accepted: the journal cursor advances to this report's end, the entry leaves the spool.
    func delivered(_ entry: Spool.Entry) throws {
        if let cursor = entry.journalCursor { try state.saveAcceptedCursor(cursor) }
        if let gap = entry.payload.spoolGap { try spool.clearGap(ifEqualTo: gap) }
        try spool.remove(entry.sequence)
    }
}
