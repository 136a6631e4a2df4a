import Hummingbird
import NIOConcurrencyHelpers

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `GET /readyz` on every listener: 200 when this collector can do its job (the store takes a write, the
/// verdicts are loaded under a policy, the signing keys are there), else 503 naming what is not.
/// `/healthz` only says the process answers. A load balancer routes by `/readyz`; it needs no credential,
/// so the answer is cached for a second and a flood of probes costs one store write per second.
final class Readiness: Sendable {
    struct Answer: Codable, Sendable, Equatable {
        var ready: Bool
        /// Each check: `ok`, or what is wrong and where to look.
        var checks: [String: String]
    }

    private let collector: CollectorCore
    private let cached = NIOLockedValueBox<(Answer, Date)?>(nil)

    init(collector: CollectorCore) { self.collector = collector }

    func answer(now: Date = Date()) async -> Answer {
        if let (answer, at) = cached.withLockedValue({ $0 }), now.timeIntervalSince(at) < 1 { return answer }
        var checks: [String: String] = [:]
        do {
            try await collector.store.checkWritable(now: now)
            checks["store"] = "ok"
        } catch {
            checks["store"] =
                "the store \(collector.configuration.storeLocation) cannot take a write (disk full? permissions?): \(error)"
        }
        checks["verdicts"] =
            await collector.verdicts.isStarted ? "ok" : "loading devices and evaluating the policy (collector start)"
        checks["keys"] =
            collector.keys.keyID("ES256", at: now) == nil || collector.keys.keyID("RS256", at: now) == nil
            ? "no key scheduled to sign now (posture-collector keys list)" : "ok"
        let answer = Answer(ready: checks.values.allSatisfy { $0 == "ok" }, checks: checks)
        cached.withLockedValue { $0 = (answer, now) }
        return answer
    }

    func register(on router: Router<CollectorRequestContext>) {
        router.get("/readyz") { _, _ in
            let answer = await self.answer()
            return Responses.json(answer, status: answer.ready ? .ok : .serviceUnavailable)
        }
    }
}
