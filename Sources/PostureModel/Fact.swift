#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One posture fact: either observed, with its value, or unavailable, with the reason.
///
/// "Unavailable" is a first-class, reported state: a probe never guesses and never crashes. Both cases
/// name the source the fact was (or would have been) read from, so an operator can check it by hand.
///
/// JSON: `{"status":"observed","source":"/etc/os-release","value":…}` or
/// `{"status":"unavailable","source":"/etc/os-release","reason":"…"}`.
public enum Fact<Value: Sendable & Codable & Equatable>: Sendable, Equatable {
    case observed(Value, source: String)
    case unavailable(reason: String, source: String)

    public var value: Value? {
        if case .observed(let value, _) = self { return value }
        return nil
    }

    public var source: String {
        switch self {
        case .observed(_, let source), .unavailable(_, let source): return source
        }
    }

    public var unavailableReason: String? {
        if case .unavailable(let reason, _) = self { return reason }
        return nil
    }

    /// Transforms an observed value; an unavailable fact stays unavailable with its reason.
    public func map<T>(_ transform: (Value) -> T) -> Fact<T> {
        switch self {
        case .observed(let value, let source): return .observed(transform(value), source: source)
        case .unavailable(let reason, let source): return .unavailable(reason: reason, source: source)
        }
    }
}

extension Fact: Codable {
    private enum CodingKeys: String, CodingKey {
        case status, source, value, reason
    }

    private enum Status: String, Codable {
        case observed, unavailable
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let source = try container.decode(String.self, forKey: .source)
        switch try container.decode(Status.self, forKey: .status) {
        case .observed:
            self = .observed(try container.decode(Value.self, forKey: .value), source: source)
        case .unavailable:
            self = .unavailable(reason: try container.decode(String.self, forKey: .reason), source: source)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .observed(let value, let source):
            try container.encode(Status.observed, forKey: .status)
            try container.encode(source, forKey: .source)
            try container.encode(value, forKey: .value)
        case .unavailable(let reason, let source):
            try container.encode(Status.unavailable, forKey: .status)
            try container.encode(source, forKey: .source)
            try container.encode(reason, forKey: .reason)
        }
    }
}
