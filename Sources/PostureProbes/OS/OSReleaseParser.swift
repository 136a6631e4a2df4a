/// Parses os-release(5): `KEY=value` lines, values optionally in single or double quotes, with
/// backslash escapes inside double quotes; comments and blank lines are skipped.
enum OSReleaseParser {
    static func parse(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.drop(while: { $0 == " " || $0 == "\t" })
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<equals])
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { continue }
            fields[key] = unquote(line[line.index(after: equals)...])
        }
        return fields
    }

    private static func unquote(_ raw: Substring) -> String {
        var value = raw
        while value.last == " " || value.last == "\t" { value.removeLast() }
        guard let first = value.first, first == "\"" || first == "'" else { return String(value) }
        var result = ""
        var escaped = false
        for character in value.dropFirst() {
            if escaped {
                result.append(character)
                escaped = false
            } else if character == "\\" && first == "\"" {
                escaped = true
            } else if character == first {
                break
            } else {
                result.append(character)
            }
        }
        return result
    }
}
