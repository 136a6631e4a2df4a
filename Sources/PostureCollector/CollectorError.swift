/// The collector's error for operators: what went wrong and what to do, by code.
public struct CollectorError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable {
        public let rawValue: String
        public static let configuration = Code(rawValue: "configuration")
        public static let pki = Code(rawValue: "pki")
        public static let storage = Code(rawValue: "storage")
        public static let notFound = Code(rawValue: "not-found")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
