/// Shared Signals push delivery: where SETs may go and whom to trust there. Documented in
/// `etc/posture/collector.yaml` under `ssf:`.
extension CollectorConfiguration {
    public struct SSF: Sendable, Codable, Equatable {
        public init() {}

        /// Push destinations allowed: host names, `*.domain`, addresses or CIDR ranges, each with an
        /// optional `:port`. Empty: any https destination that resolves to public addresses only.
        public var allowedDestinations: [String] = []
        /// A PEM bundle of CAs to verify receivers with, besides the system's roots (a private PKI).
        public var caBundle: String?
    }
}

extension CollectorConfiguration.SSF {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        allowedDestinations = try c.decodeIfPresent([String].self, forKey: .allowedDestinations) ?? allowedDestinations
        caBundle = try c.decodeIfPresent(String.self, forKey: .caBundle)
    }
}
