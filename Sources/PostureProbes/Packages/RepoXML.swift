#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A streaming reader of the XML createrepo writes (`repomd.xml`, `primary.xml`, `updateinfo.xml`): start and
/// end tags with their attributes, text, CDATA; comments, processing instructions and the DOCTYPE are
/// skipped. No DTD is read and no entity but XML's five and character references is expanded, so no
/// document can make it fetch, expand or recurse. It does not validate: a file that is not well-formed gives
/// whatever tokens it has (the readers above check what they need), or an error where a token never ends.
struct RepoXMLScanner {
    struct Token {
        enum Kind { case start, end, text }
        var kind: Kind
        /// The tag's qualified name (`package`, `rpm:entry`); empty for text.
        var name: UnsafeBufferPointer<UInt8>
        /// The attributes' source for a start tag; the raw text (entities not expanded) for text.
        var body: UnsafeBufferPointer<UInt8>
        /// CDATA: taken as it is, without entity expansion.
        var isCDATA = false

        func isNamed(_ expected: String) -> Bool {
            var expected = expected
            return expected.withUTF8 { $0.elementsEqual(name) }
        }

        /// The text, with `&amp;`-style entities and character references expanded.
        var text: String { isCDATA ? String(decoding: body, as: UTF8.self) : RepoXMLScanner.expand(body) }

        /// The value of the attribute `wanted` of a start tag, expanded; nil when it has none.
        func attribute(_ wanted: String) -> String? {
            var wanted = wanted
            return wanted.withUTF8 { wanted in
                var index = 0
                let bytes = body
                func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d }
                while index < bytes.count {
                    while index < bytes.count, isSpace(bytes[index]) || bytes[index] == UInt8(ascii: "/") { index += 1 }
                    let nameStart = index
                    while index < bytes.count, !isSpace(bytes[index]), bytes[index] != UInt8(ascii: "=") { index += 1 }
                    let nameEnd = index
                    while index < bytes.count, isSpace(bytes[index]) { index += 1 }
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "=") else { return nil }
                    index += 1
                    while index < bytes.count, isSpace(bytes[index]) { index += 1 }
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "'")
                    else { return nil }
                    let quote = bytes[index]
                    index += 1
                    let valueStart = index
                    while index < bytes.count, bytes[index] != quote { index += 1 }
                    guard index < bytes.count else { return nil }
                    let value = UnsafeBufferPointer(rebasing: bytes[valueStart..<index])
                    index += 1
                    if UnsafeBufferPointer(rebasing: bytes[nameStart..<nameEnd]).elementsEqual(wanted) {
                        return RepoXMLScanner.expand(value)
                    }
                }
                return nil
            }
        }
    }

    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    /// The longest token (a tag with its attributes, a text or CDATA run) held while waiting for its end.
    static let tokenLimit = 1 << 20

    private var carry: [UInt8] = []

    /// Gives every token that ends within what has been fed so far; keeps an unfinished one for the next call.
    mutating func feed(_ bytes: ArraySlice<UInt8>, _ handle: (Token) throws -> Void) throws {
        carry.append(contentsOf: bytes)
        let consumed = try carry.withUnsafeBufferPointer { try Self.scan($0, handle) }
        carry.removeFirst(consumed)
        if carry.count > Self.tokenLimit {
            throw Malformed(description: "a tag or text longer than \(Self.tokenLimit) bytes")
        }
    }

    /// After the last bytes: what is left must be text (whitespace after the root element), not a cut tag.
    func finish() throws {
        if carry.contains(UInt8(ascii: "<")) { throw Malformed(description: "the document ends inside a tag") }
    }

    /// Tokens in `buffer`, up to the last one that ends in it; returns how many bytes they took.
    private static func scan(_ buffer: UnsafeBufferPointer<UInt8>, _ handle: (Token) throws -> Void) throws -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        let count = buffer.count
        var position = 0
        func find(_ byte: UInt8, from: Int) -> Int? {
            guard from < count, let found = memchr(base + from, Int32(byte), count - from) else { return nil }
            return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
        }
        func find(_ pattern: [UInt8], from: Int) -> Int? {
            var at = from
            while let candidate = find(pattern[0], from: at) {
                if candidate + pattern.count > count { return nil }
                if (0..<pattern.count).allSatisfy({ base[candidate + $0] == pattern[$0] }) { return candidate }
                at = candidate + 1
            }
            return nil
        }
        func slice(_ range: Range<Int>) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: buffer[range]) }
        func hasPrefix(_ prefix: [UInt8], at: Int) -> Bool? {
            if at + prefix.count > count {
                // Not decidable yet unless what is there already differs.
                return (0..<(count - at)).allSatisfy({ base[at + $0] == prefix[$0] }) ? nil : false
            }
            return (0..<prefix.count).allSatisfy { base[at + $0] == prefix[$0] }
        }
        let empty = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
        while position < count {
            guard let open = find(UInt8(ascii: "<"), from: position) else { return position }
            if open > position { try handle(Token(kind: .text, name: empty, body: slice(position..<open))) }
            position = open
            guard open + 1 < count else { return position }
            switch base[open + 1] {
            case UInt8(ascii: "!"):
                guard let isComment = hasPrefix(Array("<!--".utf8), at: open),
                    let isCDATA = hasPrefix(Array("<![CDATA[".utf8), at: open)
                else { return position }
                if isComment {
                    guard let end = find(Array("-->".utf8), from: open + 4) else { return position }
                    position = end + 3
                } else if isCDATA {
                    guard let end = find(Array("]]>".utf8), from: open + 9) else { return position }
                    try handle(Token(kind: .text, name: empty, body: slice((open + 9)..<end), isCDATA: true))
                    position = end + 3
                } else {
                    // <!DOCTYPE ...>: an internal subset could declare entities, which this reader never expands.
                    guard let end = find(UInt8(ascii: ">"), from: open) else { return position }
                    position = end + 1
                }
            case UInt8(ascii: "?"):
                guard let end = find(Array("?>".utf8), from: open + 2) else { return position }
                position = end + 2
            case UInt8(ascii: "/"):
                guard let end = find(UInt8(ascii: ">"), from: open) else { return position }
                var nameEnd = end
                while nameEnd > open + 2, base[nameEnd - 1] <= 0x20 { nameEnd -= 1 }
                try handle(Token(kind: .end, name: slice((open + 2)..<nameEnd), body: empty))
                position = end + 1
            default:
                // The closing `>` outside quoted attribute values (which may hold `>`).
                var index = open + 1
                var quote: UInt8? = nil
                while index < count {
                    let byte = base[index]
                    if let open = quote {
                        if byte == open { quote = nil }
                    } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                        quote = byte
                    } else if byte == UInt8(ascii: ">") {
                        break
                    }
                    index += 1
                }
                guard index < count else { return position }
                var nameEnd = open + 1
                while nameEnd < index, base[nameEnd] > 0x20, base[nameEnd] != UInt8(ascii: "/") { nameEnd += 1 }
                let name = slice((open + 1)..<nameEnd)
                let selfClosing = base[index - 1] == UInt8(ascii: "/") && index - 1 >= nameEnd
                try handle(Token(kind: .start, name: name, body: slice(nameEnd..<index)))
                if selfClosing { try handle(Token(kind: .end, name: name, body: empty)) }
                position = index + 1
            }
        }
        return position
    }

    /// XML's five entities and character references; anything else after `&` is kept as written.
    static func expand(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        guard bytes.contains(UInt8(ascii: "&")) else { return String(decoding: bytes, as: UTF8.self) }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "&"),
                let semicolon = bytes[index...].prefix(12).firstIndex(of: UInt8(ascii: ";"))
            else {
                output.append(byte)
                index += 1
                continue
            }
            let entity = String(decoding: UnsafeBufferPointer(rebasing: bytes[(index + 1)..<semicolon]), as: UTF8.self)
            var replacement: String?
            switch entity {
            case "lt": replacement = "<"
            case "gt": replacement = ">"
            case "amp": replacement = "&"
            case "quot": replacement = "\""
            case "apos": replacement = "'"
            default:
                let number =
                    entity.hasPrefix("#x")
                    ? UInt32(entity.dropFirst(2), radix: 16)
                    : entity.hasPrefix("#") ? UInt32(entity.dropFirst(), radix: 10) : nil
                if let number, let scalar = Unicode.Scalar(number) { replacement = String(Character(scalar)) }
            }
            if let replacement {
                output.append(contentsOf: replacement.utf8)
                index = semicolon + 1
            } else {
                output.append(byte)
                index += 1
            }
        }
        return String(decoding: output, as: UTF8.self)
    }
}
