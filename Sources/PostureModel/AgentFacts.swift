/// How the agent itself is set up, as it says: what it does with a non-compliant verdict and how often it
/// reports. A claim of the device, not proven; the maturity stage rests on it with that caveat.
public struct AgentFacts: Sendable, Codable, Equatable {
    /// `off`, `dry-run` or `enforce` (`enforcement.mode` in agent.yaml).
    public var enforcement: String
    /// Seconds between reports (`interval`).
    public var intervalSeconds: Int

    public init(enforcement: String, intervalSeconds: Int) {
        self.enforcement = enforcement
        self.intervalSeconds = intervalSeconds
    }
}
