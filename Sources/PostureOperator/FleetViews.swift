import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Projections of the generated answers that render with the model's own types (`Verdict`, `PostureReport`),
/// filled by `PostureReport.reencode` from `PostureAPI`'s types.
struct SummaryView: Decodable {
    struct Count: Decodable {
        var key: String
        var devices: Int
    }

    struct Day: Decodable {
        var day: String
        var becameNoncompliant: Int
        var becameCompliant: Int
    }

    var devices: Int
    var byVerdict: [String: Int]
    var byFailingRule: [Count]
    var byOS: [Count]
    var quarantined: Int
    var silent: Int
    var trend: [Day]
    var byStage: [String: Int]?
}

struct DetailView: Decodable {
    struct Change: Decodable {
        var at: Date
        var previousStatus: String?
        var status: String
        var cause: String
    }

    struct Event: Decodable {
        var at: Date
        var code: String
        var message: String
    }

    struct Device: Decodable {
        var id: String
        var hostname: String
        var labels: [String: String]
        var state: String
        var verdict: String?
        var verdictSince: Date?
        var os: String?
        var osVersion: String?
        var lastSeen: Date?
    }

    struct Key: Decodable {
        var protection: String
        var endorsementFingerprint: String?
    }

    struct Boot: Decodable {
        var pcrs: [String]
        var baselineRecorded: Bool
        var changedPCRs: [Int]
        var eventLog: String
        var eventLogDetail: String?
        var secureBoot: Bool?
    }

    struct Maturity: Decodable {
        var stage: String
        var next: String?
        var missing: [String]
    }

    var device: Device
    var key: Key?
    var boot: Boot?
    var maturity: Maturity?
    var verdict: Verdict?
    var report: PostureReport?
    var verdictChanges: [Change]
    var enforcement: [Event]
    var refusals: [Event]
}

/// Columns cut to fit an 80-column terminal, and times as ages ("5m", "3d").
public enum TextTable {
    public static func render(_ header: [String], _ rows: [[String]], widths: [Int]) -> String {
        var lines: [String] = []
        for row in [header] + rows {
            var cells: [String] = []
            for (index, cell) in row.enumerated() {
                let width = widths[index]
                let last = index == row.count - 1
                cells.append(last ? cut(cell, to: width) : pad(cut(cell, to: width), to: width))
            }
            lines.append(cells.joined(separator: "  ").trimmingTrailingSpaces())
        }
        return lines.joined(separator: "\n")
    }

    static func cut(_ text: String, to width: Int) -> String {
        text.count <= width ? text : String(text.prefix(max(width - 1, 0))) + "…"
    }

    /// `text` broken at spaces into lines of at most `width` (a longer word stands alone), each after `indent`
    /// and the first after `first`: a fix an operator must read whole.
    static func wrap(_ text: String, first: String, indent: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = first
        for word in text.split(separator: " ") {
            let prefix = lines.isEmpty ? first : indent
            if line.count > prefix.count && line.count + 1 + word.count > width {
                lines.append(line)
                line = indent
            }
            line += (line.count > (lines.isEmpty ? first : indent).count ? " " : "") + word
        }
        lines.append(line)
        return lines
    }

    static func pad(_ text: String, to width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    static func age(_ date: Date?, now: Date = Date()) -> String { DurationText.age(of: date, now: now) }

    /// Text from devices (hostnames, observed values, messages) made safe for a terminal: control
    /// characters (escape sequences could rewrite the screen or the clipboard) and bidirectional
    /// overrides become `?`; line breaks stay.
    public static func terminalSafe(_ text: String) -> String {
        String(
            String.UnicodeScalarView(
                text.unicodeScalars.map { scalar in
                    let value = scalar.value
                    let control = (value < 0x20 && value != 0x0A) || (0x7F...0x9F).contains(value)
                    let bidi = (0x202A...0x202E).contains(value) || (0x2066...0x2069).contains(value)
                    return control || bidi ? "?" : scalar
                }))
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
