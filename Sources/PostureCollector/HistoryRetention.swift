import Logging
import PostureStore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Deletes history past its retention (`storage.keepAttestations`, `storage.keepExpiredCertificates`) at
/// start and then hourly. Attestations within the policy's journal-signal window always stay: the
/// verdicts read their signals back from them.
public struct HistoryRetention {
    let collector: CollectorCore
    static let interval: Duration = .seconds(3600)
    /// Nonces are single-use and live minutes; a day past expiry none can matter.
    public static let keepExpiredNonces: Double = 86400

    func run() async {
        while !Task.isCancelled {
            _ = await prune(now: Date())
            try? await Task.sleep(for: Self.interval)
        }
    }

    /// What is older than these goes. Attestations: the configured time, or the policy's signal window
    /// when that is longer.
    public struct Cutoffs: Equatable, Sendable {
        public var attestations: Date
        public var certificates: Date
        public var nonces: Date
    }

    public static func cutoffs(now: Date, storage: CollectorConfiguration.Storage, signalWindow: Duration) -> Cutoffs {
        Cutoffs(
            attestations: now.addingTimeInterval(-max(storage.keepAttestations.seconds, seconds(signalWindow))),
            certificates: now.addingTimeInterval(-storage.keepExpiredCertificates.seconds),
            nonces: now.addingTimeInterval(-keepExpiredNonces))
    }

    func prune(now: Date) async -> PrunedHistory? {
        let cutoffs = Self.cutoffs(
            now: now, storage: collector.configuration.storage,
            signalWindow: await collector.verdicts.policy.signalWindow)
        do {
            let pruned = try await collector.store.pruneHistory(
                attestationsIssuedBefore: cutoffs.attestations, certificatesExpiredBefore: cutoffs.certificates,
                noncesExpiredBefore: cutoffs.nonces, batch: 5000)
            collector.metrics.pruned(pruned)
            if pruned != PrunedHistory() {
                collector.logger.info(
                    "retention: deleted \(pruned.attestations) attestations, \(pruned.certificates) expired certificates, \(pruned.nonces) nonces",
                    metadata: ["posture.attestations_before": "\(cutoffs.attestations)"])
            }
            return pruned
        } catch {
            collector.logger.error(
                "retention: could not prune the store \(collector.configuration.sqlitePath): \(error); retried in an hour"
            )
            return nil
        }
    }
}
