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
    /// Rows per delete transaction: an attestation commit waits at most one batch (posture-fleet-bench).
    public static let batch = 500

    func run() async {
        let leases = Leases(store: collector.store)
        while !Task.isCancelled {
            // One collector of a shared store prunes; if it dies, another does within 90 minutes.
            if await leases.hold("retention", for: Self.interval + .seconds(1800)) { await prune(now: Date()) }
            try? await Task.sleep(for: Self.interval)
        }
    }

    /// What is older than these goes. Attestations: the configured time, or the policy's signal window
    /// when that is longer; superseded nonces with them (one admits only reports signed before it was
    /// superseded, and those would be pruned).
    public struct Cutoffs: Equatable, Sendable {
        public var attestations: Date
        public var certificates: Date
        public var nonces: Date
    }

    public static func cutoffs(now: Date, storage: CollectorConfiguration.Storage, signalWindow: Duration) -> Cutoffs {
        let attestations = now.addingTimeInterval(-max(storage.keepAttestations.seconds, seconds(signalWindow)))
        return Cutoffs(
            attestations: attestations,
            certificates: now.addingTimeInterval(-storage.keepExpiredCertificates.seconds), nonces: attestations)
    }

    func prune(now: Date) async {
        let cutoffs = Self.cutoffs(
            now: now, storage: collector.configuration.storage,
            signalWindow: await collector.verdicts.policy.signalWindow)
        do {
            var pruned = try await collector.store.pruneHistory(
                attestationsIssuedBefore: cutoffs.attestations, certificatesExpiredBefore: cutoffs.certificates,
                noncesSupersededBefore: cutoffs.nonces, batch: Self.batch)
            pruned.securityEvents = try await collector.store.pruneSecurityEvents(
                before: now.addingTimeInterval(-collector.configuration.storage.keepSecurityEvents.seconds),
                batch: Self.batch)
            collector.metrics.pruned(pruned)
            if pruned != PrunedHistory() {
                collector.logger.info(
                    "retention: deleted \(pruned.attestations) attestations, \(pruned.certificates) expired certificates, \(pruned.nonces) nonces, \(pruned.securityEvents) security events, \(pruned.reportBodies) report parts no attestation kept names",
                    metadata: ["posture.attestations_before": "\(cutoffs.attestations)"])
            }
        } catch is CancellationError {
            // Shutting down.
        } catch {
            collector.logger.error(
                "retention: could not prune the store \(collector.configuration.storeLocation): \(error); retried in an hour"
            )
        }
    }
}
