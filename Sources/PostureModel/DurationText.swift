#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Durations as people write them in flags and configuration: `500ms`, `30s`, `15m`, `24h`, `7d`.
public struct DurationText: Sendable, Hashable, CustomStringConvertible, Codable {
    public let duration: Duration
    public let text: String

    public init?(_ text: String) {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (suffix, millis) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            // "ms" also ends in "s": only accept a number before the suffix.
            guard let count = Int64(number), count >= 0 else { continue }
            // An absurd count (200000000000d) is not a duration, not a crash.
            let (total, overflow) = count.multipliedReportingOverflow(by: millis)
            guard !overflow else { return nil }
            duration = .milliseconds(total)
            self.text = text
            return
        }
        return nil
    }

    public init(_ duration: Duration, text: String) {
        self.duration = duration
        self.text = text
    }

    public var seconds: Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    public var description: String { text }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parsed = DurationText(text) else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "'\(text)' is not a duration; write e.g. 30s, 15m, 24h or 7d"))
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}

extension Duration {
    /// The duration in seconds, fractions included.
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

extension DurationText {
    /// How long ago, in the largest whole unit: `45s`, `5m`, `3h`, `2d`; `never` for nil.
    public static func age(of date: Date?, now: Date) -> String {
        guard let date else { return "never" }
        let seconds = max(now.timeIntervalSince(date).saturatingInt, 0)
        switch seconds {
        case ..<60: return "\(seconds)s"
        case ..<3600: return "\(seconds / 60)m"
        case ..<86400: return "\(seconds / 3600)h"
        default: return "\(seconds / 86400)d"
        }
    }
}
