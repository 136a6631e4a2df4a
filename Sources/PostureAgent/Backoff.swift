/// Exponential backoff with full jitter: each wait is uniform in [floor, floor + current], and the current
/// bound doubles to `cap`. After a collector restart every agent of a fleet fails at the same moment;
/// without jitter they would all retry together at 1, 2, 4 … seconds and knock it over again.
struct Backoff: Sendable {
    let initial: Double
    let cap: Double
    private var current: Double

    init(initial: Double = 1, cap: Double) {
        self.initial = initial
        self.cap = cap
        current = initial
    }

    /// The next wait; `floor` is what the collector asked for (`Retry-After`), if anything.
    mutating func next(atLeast floor: Duration = .zero) -> Duration {
        let wait = Double.random(in: 0...current)
        current = min(current * 2, cap)
        return floor + .milliseconds(Int64(wait * 1000))
    }

    mutating func reset() { current = initial }
}
