/// The agent's error: the cause and the fix, by code.
public struct AgentError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable {
        public let rawValue: String
        public static let notEnrolled = Code(rawValue: "not-enrolled")
        public static let alreadyEnrolled = Code(rawValue: "already-enrolled")
        public static let stateDirectory = Code(rawValue: "state-directory")
        public static let collectorUnreachable = Code(rawValue: "collector-unreachable")
        public static let caPinMismatch = Code(rawValue: "ca-pin-mismatch")
        public static let refused = Code(rawValue: "refused")
        public static let usage = Code(rawValue: "usage")
        public static let tpm = Code(rawValue: "tpm")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
