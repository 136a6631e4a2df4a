extension StringProtocol {
    /// Without leading and trailing spaces, tabs and line breaks. (Foundation's `trimmingCharacters(in:)`
    /// lives outside FoundationEssentials and would link ICU's 34 MB into the agent.)
    public func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0.isNewline }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
