/// The YAML the agent's configuration file uses, read without Foundation (Yams would bring ICU's 30 MB into
/// postured): `key: value` lines, one level of sections by indentation, `#` comments, scalars plain or
/// quoted, lists as `[a, b]` or as `- item` lines. Anything else is refused with its line, never guessed.
public struct ConfigurationText: Sendable {
    public enum Value: Sendable, Equatable {
        case scalar(String)
        case list([String])
    }

    public struct Entry: Sendable, Equatable {
        public var value: Value
        public var line: Int
    }

    /// By dotted key (`enforcement.mode`).
    public private(set) var entries: [String: Entry] = [:]
    /// Keys in the order they appear, sections included, each with its line.
    public private(set) var keys: [(key: String, line: Int)] = []

    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    public init(_ text: String) throws(Failure) {
        // The top-level key whose indented keys follow (a section), and the key whose `- item` lines may
        // follow (a list); a top-level key without a value is either, as the next line shows.
        var section: (name: String, indent: Int?)?
        var list: (key: String, indent: Int, line: Int)?
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            if raw.contains("\t") { throw Failure(line: number, message: "a tab: indent with spaces") }
            let line = Self.stripComment(String(raw))
            if line.allSatisfy({ $0 == " " }) { continue }
            let indent = line.prefix { $0 == " " }.count
            let content = String(line.dropFirst(indent))
            if content.hasPrefix("- ") || content == "-" {
                guard let open = list, indent >= open.indent else {
                    throw Failure(line: number, message: "a list item without a key above it")
                }
                // A top-level key whose next line is an item is a list, not a section.
                if entries[open.key] == nil { section = nil }
                var items: [String] = []
                if case .list(let earlier) = entries[open.key]?.value { items = earlier }
                items.append(try Self.scalar(String(content.dropFirst(1)), line: number))
                entries[open.key] = Entry(value: .list(items), line: open.line)
                continue
            }
            list = nil
            guard let colon = Self.keyColon(content) else {
                throw Failure(line: number, message: "'\(content)' is not `key: value`")
            }
            let name = String(content[..<colon])
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                throw Failure(line: number, message: "'\(name)' is not a key (letters, digits, - and _)")
            }
            let rest = String(content[content.index(after: colon)...]).trimmingSpaces()
            let key: String
            if indent == 0 {
                section = rest.isEmpty ? (name, nil) : nil
                key = name
            } else if let open = section, open.indent == nil || open.indent == indent {
                section = (open.name, indent)
                key = open.name + "." + name
            } else {
                throw Failure(
                    line: number, message: "\(name): indented under no section, or not as the keys above it")
            }
            guard !keys.contains(where: { $0.key == key }) else {
                throw Failure(line: number, message: "\(key) is set twice")
            }
            keys.append((key, number))
            if rest.isEmpty {
                // A section (top level) or a list given as `- item` lines below; a nested key without a
                // value is an empty list until items follow.
                list = (key, indent, number)
                if indent > 0 { entries[key] = Entry(value: .list([]), line: number) }
            } else {
                entries[key] = Entry(value: try Self.value(rest, line: number), line: number)
            }
        }
    }

    private static func value(_ text: String, line: Int) throws(Failure) -> Value {
        guard text.hasPrefix("[") else { return .scalar(try scalar(text, line: line)) }
        guard text.hasSuffix("]") else { throw Failure(line: line, message: "a list must end with ]") }
        let inner = text.dropFirst().dropLast().trimmingSpaces()
        if inner.isEmpty { return .list([]) }
        var items: [String] = []
        for part in inner.split(separator: ",", omittingEmptySubsequences: false) {
            items.append(try scalar(String(part), line: line))
        }
        return .list(items)
    }

    private static func scalar(_ text: String, line: Int) throws(Failure) -> String {
        let text = text.trimmingSpaces()
        for quote in ["\"", "'"] where text.hasPrefix(quote) {
            guard text.count >= 2, text.hasSuffix(quote) else {
                throw Failure(line: line, message: "\(text): an unterminated quoted value")
            }
            let inner = String(text.dropFirst().dropLast())
            guard !inner.contains(quote), !inner.contains("\\") else {
                throw Failure(line: line, message: "\(text): quotes and backslashes inside a quoted value are not read")
            }
            return inner
        }
        guard !text.isEmpty, let first = text.first, !"[]{}&*!|>%@`\"'".contains(first) else {
            throw Failure(line: line, message: "'\(text)' is not a plain value; quote it")
        }
        return text
    }

    /// The text before a `#` that starts a comment (at the start, or after a space, outside quotes).
    private static func stripComment(_ line: String) -> String {
        var quote: Character?
        var previous: Character = " "
        var kept = ""
        for character in line {
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "#", previous == " " {
                break
            }
            kept.append(character)
            previous = character
        }
        return kept
    }

    /// The colon that ends a key: followed by a space or the end of the line.
    private static func keyColon(_ content: String) -> String.Index? {
        var index = content.startIndex
        while index < content.endIndex {
            if content[index] == ":" {
                let next = content.index(after: index)
                if next == content.endIndex || content[next] == " " { return index }
            }
            index = content.index(after: index)
        }
        return nil
    }
}

extension StringProtocol {
    fileprivate func trimmingSpaces() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
