import Logging
import PostureLinux
import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The agent's verdict: long-polled, verified against the pinned keys, ordered, saved, handed to enforcement.
extension Agent {
    /// Long-polls the collector for this device's verdict, so a change (an operator's quarantine, a
    /// waiver ending, a policy change) reaches the endpoint within a second, not at the next report.
    func watchVerdict() async {
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
    func learned(_ new: Verdict, jwt: String?, from source: String) async -> Bool {
        var verified: VerifiedVerdict?
        if verifier != nil, let jwt {
            do {
                verified = try await verify(jwt)
            } catch {
                logger.warning(
                    "verdict refused, not acted on: \(error.message)",
                    metadata: [
                        "posture.event": "verdict-refused", "posture.reason": "\(error.reason.rawValue)",
                        "posture.source": "\(source)",
                    ])
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
            // Time-bound sudo ends with compliance, at once, not at the next look at the collector.
            if new.status != .compliant { dropSudoGrants(why: "the device is \(new.status.rawValue)") }
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
    func verify(_ jwt: String) async throws(VerdictRejection) -> VerifiedVerdict? {
        guard let verifier else { return nil }
        do {
            return try verifier.verify(jwt, now: Date(), notBefore: lastVerified)
        } catch let error
            where error.reason == .unknownKey && (keysFetchedAt.map { Date().timeIntervalSince($0) > 60 } ?? true)
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
    func adopt(verdictKeys: String?, caBundle: String?, from source: String) {
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
    func reportEnforcement() async {
        guard let enforcer else { return }
        let records = await enforcer.unreported()
        guard !records.isEmpty, let body = try? PostureReport.wireEncoder().encode(records) else { return }
        if case .accepted = await client.post("/v1/enforcement", body: Array(body), contentType: "application/json") {
            await enforcer.markReported(records.count)
        }
    }
}
