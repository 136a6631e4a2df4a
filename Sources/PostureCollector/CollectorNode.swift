import NIOConcurrencyHelpers
import PostureStore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// This collector process among those sharing a store: the owner of the leases it holds.
enum CollectorNode {
    static let id = "\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
}

/// Leases this collector holds (`LeaseStore`), each claimed again only when a third of it is left, so
/// holding one costs a write per renewal, not per check. A store no other collector shares needs none:
/// every check answers yes without a write.
final class Leases: Sendable {
    private let store: any PostureStore
    private let held = NIOLockedValueBox([String: Date]())

    init(store: any PostureStore) { self.store = store }

    /// True when this collector may do the work `name` now.
    func hold(_ name: String, for duration: Duration, now: Date = Date()) async -> Bool {
        guard store is any SharedStoreEvents else { return true }
        let seconds = Double(duration.components.seconds)
        if let until = held.withLockedValue({ $0[name] }), now < until.addingTimeInterval(-seconds / 3) {
            return true
        }
        let claimed =
            (try? await store.claimLease(name, owner: CollectorNode.id, for: duration, now: now)) == true
        held.withLockedValue { $0[name] = claimed ? now.addingTimeInterval(seconds) : nil }
        return claimed
    }
}
