/// The one reading of a signed JSON text: a syntax check that refuses what JSON readers disagree on.
///
/// RFC 8259 §4 leaves duplicate member names to the reader (Foundation keeps the first, jq, Python and
/// Go the last), so a signed report with two `"sequence"` members would mean different things to the
/// collector and to whoever re-verifies it later. RFC 7515 §4 asks a JWS reader to refuse them. This
/// scanner walks the text once, compares member names after unescaping (`"a"` and `"\u0061"` are one
/// name), bounds nesting so a decoder never recurses without limit, and says where the problem is.
public enum StrictJSON {
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        /// Where, as a dotted path of member names and `[index]`es (`report.os`), or `top level`.
        public var path: String
        public var reason: String
        public var description: String { "\(reason) at \(path)" }
    }

    /// Nesting deeper than this is refused: a report's deepest point (a block device stack) is far above.
    public static let maxDepth = 64

    /// Throws the first duplicate member name, excessive nesting or syntax error in `bytes`.
    public static func check(_ bytes: some Collection<UInt8>) throws(Problem) {
        var scanner = Scanner(bytes: Array(bytes))
        try scanner.value(depth: 0)
        scanner.skipSpace()
        guard scanner.index == scanner.bytes.count else { throw scanner.problem("text after the JSON value") }
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0
        var path: [String] = []

        init(bytes: [UInt8]) { self.bytes = bytes }

        func problem(_ reason: String) -> Problem {
            Problem(path: path.isEmpty ? "top level" : path.joined(separator: "."), reason: reason)
        }

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) { index += 1 }
        }

        mutating func expect(_ literal: String) throws(Problem) {
            for byte in literal.utf8 {
                guard index < bytes.count, bytes[index] == byte else { throw problem("not JSON") }
                index += 1
            }
        }

        mutating func value(depth: Int) throws(Problem) {
            guard depth < StrictJSON.maxDepth else {
                throw problem("nesting deeper than \(StrictJSON.maxDepth) levels")
            }
            skipSpace()
            guard index < bytes.count else { throw problem("the text ends before a value") }
            switch bytes[index] {
            case UInt8(ascii: "{"): try object(depth: depth)
            case UInt8(ascii: "["): try array(depth: depth)
            case UInt8(ascii: "\""): _ = try string()
            case UInt8(ascii: "t"): try expect("true")
            case UInt8(ascii: "f"): try expect("false")
            case UInt8(ascii: "n"): try expect("null")
            default: try number()
            }
        }

        mutating func object(depth: Int) throws(Problem) {
            index += 1
            var names = Set<String>()
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return
            }
            while true {
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                    throw problem("an object member name must be a string")
                }
                let name = try string()
                guard names.insert(name).inserted else {
                    throw problem("duplicate member name \"\(String(name.prefix(64)))\"")
                }
                skipSpace()
                try expect(":")
                path.append(String(name.prefix(64)))
                try value(depth: depth + 1)
                path.removeLast()
                skipSpace()
                guard index < bytes.count else { throw problem("the text ends inside an object") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                } else if bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return
                } else {
                    throw problem("expected , or } in an object")
                }
            }
        }

        mutating func array(depth: Int) throws(Problem) {
            index += 1
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return
            }
            var element = 0
            while true {
                path.append("[\(element)]")
                try value(depth: depth + 1)
                path.removeLast()
                element += 1
                skipSpace()
                guard index < bytes.count else { throw problem("the text ends inside an array") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                } else if bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return
                } else {
                    throw problem("expected , or ] in an array")
                }
            }
        }

        /// A string, unescaped, so that names compare as a reader would see them.
        mutating func string() throws(Problem) -> String {
            index += 1
            var scalars = String.UnicodeScalarView()
            var runStart = index
            func flush(_ scanner: Scanner, upTo end: Int, into scalars: inout String.UnicodeScalarView) {
                scalars.append(
                    contentsOf: String(decoding: scanner.bytes[runStart..<end], as: UTF8.self).unicodeScalars)
            }
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    flush(self, upTo: index, into: &scalars)
                    index += 1
                    return String(scalars)
                }
                guard byte >= 0x20 else { throw problem("a control character inside a string") }
                guard byte == UInt8(ascii: "\\") else {
                    index += 1
                    continue
                }
                flush(self, upTo: index, into: &scalars)
                index += 1
                guard index < bytes.count else { break }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    var unit = try hex4()
                    if (0xD800...0xDBFF).contains(unit), index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                        bytes[index + 1] == UInt8(ascii: "u")
                    {
                        index += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw problem("an unpaired UTF-16 surrogate") }
                        unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(unit) else { throw problem("an unpaired UTF-16 surrogate") }
                    scalars.append(scalar)
                default:
                    throw problem("an unknown escape in a string")
                }
                runStart = index
            }
            throw problem("the text ends inside a string")
        }

        mutating func hex4() throws(Problem) -> UInt32 {
            guard index + 4 <= bytes.count else { throw problem("a short \\u escape") }
            var value: UInt32 = 0
            for byte in bytes[index..<index + 4] {
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw problem("a bad \\u escape")
                }
                value = value << 4 | UInt32(digit)
            }
            index += 4
            return value
        }

        mutating func number() throws(Problem) {
            let start = index
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            func digits(_ scanner: inout Scanner) -> Int {
                let from = scanner.index
                while scanner.index < scanner.bytes.count,
                    (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(scanner.bytes[scanner.index])
                {
                    scanner.index += 1
                }
                return scanner.index - from
            }
            guard digits(&self) > 0 else { throw problem("not JSON") }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard digits(&self) > 0 else { throw problem("a number with no digits after the point") }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                    index += 1
                }
                guard digits(&self) > 0 else { throw problem("a number with no exponent digits") }
            }
            guard index - start <= 64 else { throw problem("a number longer than 64 characters") }
        }
    }
}
