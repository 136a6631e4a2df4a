import PostureModel
import PostureStore

/// Group commit: attestations that arrive while a transaction is being written wait and go into the
/// next one together, so one fsync covers many reports and storage is not the bottleneck.
actor AttestationCommitter {
    private let store: any PostureStore
    private let policy: FreshnessPolicy
    private var waiting:
        [(PendingAttestation, CheckedContinuation<Result<AttestationReceipt, AttestationRefusal>, Never>)] = []
    private var writing = false

    init(store: any PostureStore, policy: FreshnessPolicy) {
        self.store = store
        self.policy = policy
    }

    func submit(_ pending: PendingAttestation) async -> Result<AttestationReceipt, AttestationRefusal> {
        await withCheckedContinuation { continuation in
            waiting.append((pending, continuation))
            if !writing {
                writing = true
                // One writer at a time; it drains everything that queued up meanwhile, then ends.
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !waiting.isEmpty {
            let batch = waiting
            waiting.removeAll(keepingCapacity: true)
            let results: [Result<AttestationReceipt, AttestationRefusal>]
            do {
                results = try await store.accept(batch.map(\.0), policy: policy)
            } catch {
                let failure = AttestationRefusal(
                    .internalError, "the collector could not store the report: \(error); retry later")
                results = Array(repeating: .failure(failure), count: batch.count)
            }
            for ((_, continuation), result) in zip(batch, results) { continuation.resume(returning: result) }
        }
        writing = false
    }
}
