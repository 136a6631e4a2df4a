import PostureModel

/// What one client, or a crowd of them, may hold of the collector. Every key is documented in
/// `etc/posture/collector.yaml` under `limits:`.
extension CollectorConfiguration {
    public struct Limits: Sendable, Codable, Equatable {
        public init() {}

        /// A TLS handshake not complete by then is closed: stalled handshakes cannot pile up.
        public var handshakeTimeout = DurationText(.seconds(10), text: "10s")
        /// A connection with no request in flight is closed after this (a long-poll is a request in flight).
        public var idleTimeout = DurationText(.seconds(75), text: "75s")
        /// Open connections per listener; beyond them new ones wait in the kernel's backlog, unaccepted,
        /// so running out of descriptors is a connection that waits, never a failed store open.
        public var enrollmentConnections = 512
        public var devicesConnections = 16384
        public var apiConnections = 1024
        /// Attestations waiting for the store beyond this are answered 429 with Retry-After.
        public var storeQueueDepth = 256

        /// Descriptors the collector needs besides its connections (store, WAL, journal, logs, keys).
        public static let reservedDescriptors = 256

        public var totalConnections: Int { enrollmentConnections + devicesConnections + apiConnections }

        func validate(file: String) throws {
            for (key, value) in [
                ("enrollmentConnections", enrollmentConnections), ("devicesConnections", devicesConnections),
                ("apiConnections", apiConnections), ("storeQueueDepth", storeQueueDepth),
            ] where !(1...1_000_000).contains(value) {
                throw CollectorError(.configuration, "\(file): limits.\(key) is \(value); use 1 to 1000000")
            }
            for (key, value) in [("handshakeTimeout", handshakeTimeout), ("idleTimeout", idleTimeout)]
            where !(0.1...3600).contains(value.seconds) {
                throw CollectorError(.configuration, "\(file): limits.\(key) '\(value.text)' must be 100ms to 1h")
            }
        }
    }
}

extension CollectorConfiguration.Limits {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        handshakeTimeout = try c.decodeIfPresent(DurationText.self, forKey: .handshakeTimeout) ?? handshakeTimeout
        idleTimeout = try c.decodeIfPresent(DurationText.self, forKey: .idleTimeout) ?? idleTimeout
        enrollmentConnections = try c.decodeIfPresent(Int.self, forKey: .enrollmentConnections) ?? enrollmentConnections
        devicesConnections = try c.decodeIfPresent(Int.self, forKey: .devicesConnections) ?? devicesConnections
        apiConnections = try c.decodeIfPresent(Int.self, forKey: .apiConnections) ?? apiConnections
        storeQueueDepth = try c.decodeIfPresent(Int.self, forKey: .storeQueueDepth) ?? storeQueueDepth
    }
}
