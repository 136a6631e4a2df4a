#if DEBUG
    import Foundation
    import PostureModel

    /// Structure-aware: the input is not JSON but a list of 4-byte edits (kind, index high, index low, value)
    /// applied to a real report (BaseReport.swift) re-encoded as JSON. The edits write extreme numbers (Int.max,
    /// Int.min, UInt64.max, 1e308, …), empty or huge strings, nulls, type confusions and huge arrays into any
    /// field; what still decodes as a report is rendered and evaluated like a device's report.
    enum EvaluateTarget {
        /// The base report as a JSON tree, built once.
        static let base: JSONTree = {
            do {
                return try JSONDecoder().decode(JSONTree.self, from: Data(baseReportJSON.utf8))
            } catch {
                fatalError("the embedded base report is not JSON: \(error)")
            }
        }()

        static let numbers = [
            "9223372036854775807", "-9223372036854775808", "18446744073709551615", "9223372036854775808",
            "-1", "0", "1", "1099511627776", "1099511627777", "2147483647", "2147483648", "-2147483649",
            "1e308", "-1e308", "1.7976931348623157e308", "-1.7976931348623157e308", "9.3e18", "-9.3e18",
            "1.8446744073709552e19", "253402300799", "253402300800", "-62135596800", "31557600000", "31557600001",
            "4.9e-324", "0.5", "-0.0", "1e19", "4294967296", "86400", "9007199254740993", "-9.2233720368547758e18",
            "170141183460469231731687303715884105728", "1e400",
        ]

        static let integers = [
            "9223372036854775807", "-9223372036854775808", "18446744073709551615", "9223372036854775808", "-1",
            "0", "1", "1099511627776", "1099511627777", "2147483647", "2147483648", "-2147483649", "4294967296",
            "9223372036854775806", "-9223372036854775807", "4611686018427387904", "86400", "9007199254740993",
        ]

        static let dates = [
            "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z", "2262-04-11T23:47:16Z", "2038-01-19T03:14:08Z", "2026-11-30T00:00:01Z",
        ]

        static let strings: [String] = [
            "", String(repeating: "A", count: 257), String(repeating: "A", count: 4097),
            String(repeating: "x", count: 8193), String(repeating: "A", count: 70000), "\u{0}", "a\u{0}b",
            "e" + String(repeating: "\u{301}", count: 500), "\u{202E}gnp.exe", "a\nb\tc\r", "\u{1F1FA}\u{1F1F3}",
            String(repeating: "\u{1F469}\u{200D}\u{1F4BB}", count: 300), "-1", "99999999999999999999",
            "1." + String(repeating: "9", count: 40), "0.0.0", "6.1.0-13-amd64", "12", "..", "/", "\\", "%",
            "{{title}}", "<script>alert(1)</script>", "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z",
            "1970-01-01T00:00:00Z", "2262-04-11T23:47:16Z", "+275760-09-13T00:00:00Z", "observed", "unavailable",
            "\u{FFFD}", "LUKS2", "CRYPT-LUKS2-0-x", "drop", "accept", "input", "inet", "enforcing", "confidentiality",
        ]

        static let arrayLengths = [0, 1, 2, 17, 100, 4096, 4097]
        /// Edits after this many are ignored: each one walks the whole tree.
        static let maxEdits = 32
        /// An edit that would make the report larger than this, as JSON, is skipped: the collector refuses a
        /// body above `attestations.maxBodyBytes` (1 MiB by default) before parsing it, and two nested
        /// 4096-element arrays (16 million nodes) only time the harness out.
        static let maxReportBytes = 1 << 20

        static func run(_ input: [UInt8]) -> String {
            var tree = base
            var offset = 0
            while offset + 4 <= input.count, offset < 4 * maxEdits {
                let kind = input[offset]
                let index = Int(input[offset + 1]) << 8 | Int(input[offset + 2])
                let value = Int(input[offset + 3])
                var edited = tree
                edited.apply(kind: kind, index: index, value: value)
                if edited.weighs(atMost: maxReportBytes) { tree = edited }
                offset += 4
            }
            let json = Data(tree.text.utf8)
            guard let report = try? PostureReport.wireDecoder().decode(PostureReport.self, from: json) else {
                return "\(offset / 4) edits, no longer a report"
            }
            let verdict = ReportUse.exercise(report, issuedAt: Fixtures.now)
            return "\(offset / 4) edits, verdict \(verdict?.status.rawValue ?? "-")"
        }
    }

    /// JSON that keeps each number's text, so 18446744073709551615 stays itself on the way back out.
    indirect enum JSONTree: Decodable {
        case null
        case bool(Bool)
        case number(String)
        case string(String)
        case array([JSONTree])
        case object([String: JSONTree])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let bool = try? container.decode(Bool.self) {
                self = .bool(bool)
            } else if let int = try? container.decode(Int64.self) {
                self = .number(String(int))
            } else if let double = try? container.decode(Double.self) {
                self = .number("\(double)")
            } else if let string = try? container.decode(String.self) {
                self = .string(string)
            } else if let array = try? container.decode([JSONTree].self) {
                self = .array(array)
            } else {
                self = .object(try container.decode([String: JSONTree].self))
            }
        }

        /// Whether `text` would have at most `limit` bytes (about: one per separator, strings without escapes).
        /// Stops as soon as it is over, so a tree of 16 million nodes costs no more than one of `limit` bytes.
        func weighs(atMost limit: Int) -> Bool {
            var left = limit
            return spend(&left)
        }

        private func spend(_ left: inout Int) -> Bool {
            switch self {
            case .null, .bool: left -= 5
            case .number(let text): left -= text.utf8.count
            case .string(let string): left -= string.utf8.count + 2
            case .array(let elements):
                left -= 2
                for element in elements where left >= 0 {
                    left -= 1
                    if !element.spend(&left) { return false }
                }
            case .object(let members):
                left -= 2
                for (key, value) in members where left >= 0 {
                    left -= key.utf8.count + 4
                    if !value.spend(&left) { return false }
                }
            }
            return left >= 0
        }

        var text: String {
            var out = ""
            write(to: &out)
            return out
        }

        func write(to out: inout String) {
            switch self {
            case .null: out += "null"
            case .bool(let bool): out += bool ? "true" : "false"
            case .number(let text): out += text
            case .string(let string): JSONTree.quote(string, into: &out)
            case .array(let elements):
                out += "["
                for (position, element) in elements.enumerated() {
                    if position > 0 { out += "," }
                    element.write(to: &out)
                }
                out += "]"
            case .object(let members):
                out += "{"
                for (position, key) in members.keys.sorted().enumerated() {
                    if position > 0 { out += "," }
                    JSONTree.quote(key, into: &out)
                    out += ":"
                    members[key]?.write(to: &out)
                }
                out += "}"
            }
        }

        static func quote(_ string: String, into out: inout String) {
            out += "\""
            for scalar in string.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                default:
                    if scalar.value < 0x20 {
                        out +=
                            "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                            + String(scalar.value, radix: 16)
                    } else {
                        out.unicodeScalars.append(scalar)
                    }
                }
            }
            out += "\""
        }

        enum Shape { case any, number, string, bool, array, object }

        /// Paths to every node of a shape, in a fixed order (object keys sorted).
        func paths(_ shape: Shape, prefix: [PathStep] = [], into result: inout [[PathStep]]) {
            let matches: Bool
            switch (shape, self) {
            case (.any, _), (.number, .number), (.string, .string), (.bool, .bool), (.array, .array),
                (.object, .object):
                matches = true
            default: matches = false
            }
            if matches { result.append(prefix) }
            switch self {
            case .array(let elements):
                for (position, element) in elements.enumerated() {
                    element.paths(shape, prefix: prefix + [.index(position)], into: &result)
                }
            case .object(let members):
                for key in members.keys.sorted() {
                    members[key]?.paths(shape, prefix: prefix + [.key(key)], into: &result)
                }
            default: break
            }
        }

        enum PathStep {
            case index(Int)
            case key(String)
        }

        mutating func update(_ path: ArraySlice<PathStep>, _ change: (inout JSONTree?) -> Void) {
            guard let step = path.first else { return }
            switch (self, step) {
            case (.array(var elements), .index(let position)) where position < elements.count:
                if path.count == 1 {
                    var element: JSONTree? = elements[position]
                    change(&element)
                    if let element { elements[position] = element } else { elements.remove(at: position) }
                } else {
                    elements[position].update(path.dropFirst(), change)
                }
                self = .array(elements)
            case (.object(var members), .key(let key)):
                if path.count == 1 {
                    change(&members[key])
                } else {
                    members[key]?.update(path.dropFirst(), change)
                }
                self = .object(members)
            default: break
            }
        }

        mutating func set(_ path: [PathStep], _ change: (inout JSONTree?) -> Void) {
            if path.isEmpty {
                var whole: JSONTree? = self
                change(&whole)
                self = whole ?? .null
            } else {
                update(path[...], change)
            }
        }

        mutating func apply(kind: UInt8, index: Int, value: Int) {
            let shapes: [Shape] = [.number, .string, .any, .any, .array, .object, .bool, .string, .number, .any]
            let shape = shapes[Int(kind) % shapes.count]
            var candidates: [[PathStep]] = []
            paths(shape, into: &candidates)
            guard !candidates.isEmpty else { return }
            let path = candidates[index % candidates.count]
            let numbers = EvaluateTarget.numbers
            let strings = EvaluateTarget.strings
            switch Int(kind) % shapes.count {
            case 0, 8:
                // Keep an integer an integer (most fields are Int or UInt64): a fraction would only fail to decode.
                set(path) { node in
                    guard case .number(let old)? = node else { return }
                    let integral = !old.contains(".") && !old.contains("e")
                    let table = integral ? EvaluateTarget.integers : numbers
                    node = .number(table[value % table.count])
                }
            case 1, 7:
                // A date stays a date (ISO 8601), at the edges of what a Date and the format can hold.
                set(path) { node in
                    guard case .string(let old)? = node else { return }
                    let isDate = old.utf8.count == 20 && old.hasSuffix("Z") && old.dropFirst(10).first == "T"
                    let table = isDate && value % 4 != 0 ? EvaluateTarget.dates : strings
                    node = .string(table[value % table.count])
                }
            case 2: set(path) { $0 = .null }
            case 3: set(path) { $0 = .number(numbers[value % numbers.count]) }
            case 4:
                let length = EvaluateTarget.arrayLengths[value % EvaluateTarget.arrayLengths.count]
                set(path) { node in
                    guard case .array(let elements)? = node else { return }
                    node = .array(elements.isEmpty ? [] : Array(repeating: elements[0], count: length))
                }
            case 5:
                set(path) { node in
                    guard case .object(var members)? = node, !members.isEmpty else { return }
                    members.removeValue(forKey: members.keys.sorted()[value % members.count])
                    node = .object(members)
                }
            case 6: set(path) { if case .bool(let bool)? = $0 { $0 = .bool(!bool) } }
            default: set(path) { $0 = nil }  // 9: the key or element goes away
            }
        }
    }
#endif
