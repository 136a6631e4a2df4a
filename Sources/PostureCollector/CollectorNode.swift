/// This collector process among those sharing a store: the owner of the leases it holds.
enum CollectorNode {
    static let id = "\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
}
