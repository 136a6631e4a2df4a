/// Shared Signals push delivery: where SETs may go and whom to trust there. Documented in
/// `etc/posture/collector.yaml` under `ssf:`.
extension CollectorConfiguration {
    public struct SSF: Sendable, Codable, Equatable {
        public init() {}

        /// Push destinations allowed: host names, `*.domain`, addresses or CIDR ranges, each with an
        /// optional `:port`. Empty: any https destination that resolves to public addresses only.
        public var allowedDestinations: [String] = []
        /// A PEM bundle of CAs to verify receivers with, besides the system's roots (a private PKI); also
        /// trusted for the authorization server's key set.
        public var caBundle: String?
        /// Receivers may also present OAuth access tokens (RFC 9068) of this authorization server.
        public var accessTokens: AccessTokens?

        public struct AccessTokens: Sendable, Codable, Equatable {
            /// The tokens' `iss`, exactly.
            public var issuer: String
            /// Where the server publishes its key set (https).
            public var jwksURI: String
            /// The `aud` a token must include; by default the collector's issuer URL (`verdicts.issuer`).
            public var audience: String?
            /// The scope a token must grant to manage streams (the CAEP interoperability profile's name).
            public var scope: String = "ssf.manage"

            public init(issuer: String, jwksURI: String, audience: String? = nil, scope: String = "ssf.manage") {
                self.issuer = issuer
                self.jwksURI = jwksURI
                self.audience = audience
                self.scope = scope
            }

            public init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                issuer = try c.decode(String.self, forKey: .issuer)
                jwksURI = try c.decode(String.self, forKey: .jwksURI)
                audience = try c.decodeIfPresent(String.self, forKey: .audience)
                scope = try c.decodeIfPresent(String.self, forKey: .scope) ?? "ssf.manage"
            }
        }
    }
}

extension CollectorConfiguration.SSF {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        allowedDestinations = try c.decodeIfPresent([String].self, forKey: .allowedDestinations) ?? allowedDestinations
        caBundle = try c.decodeIfPresent(String.self, forKey: .caBundle)
        accessTokens = try c.decodeIfPresent(AccessTokens.self, forKey: .accessTokens)
    }
}
