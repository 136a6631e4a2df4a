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
    /// Reports allowed to wait for the next transaction; beyond, the device is told to come back later
    /// (429) rather than every device waiting longer than its request timeout.
    private let maxWaiting: Int

    init(store: any PostureStore, policy: FreshnessPolicy, maxWaiting: Int = 256) {
        self.store = store
        self.policy = policy
        self.maxWaiting = maxWaiting
    }

    func submit(_ pending: PendingAttestation) async -> Result<AttestationReceipt, AttestationRefusal> {
        guard waiting.count < maxWaiting else {
            return .failure(
                AttestationRefusal(
                    .overloaded,
                    "\(waiting.count) reports are waiting for the store (limits.storeQueueDepth); keep this one and retry after Retry-After"
                ))
        }
        return await withCheckedContinuation { continuation in
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
                results = try await store.accept(batch.map(\.0), policy: policy).map { $0.mapError(\.refusal) }
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
