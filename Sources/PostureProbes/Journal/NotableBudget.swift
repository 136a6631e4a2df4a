import PostureModel

/// Bounds the text the journal section attaches, whatever is in the journal: any local user can write
/// lines of any length through logger(1), and an attached message over the collector's 8 KiB limit
/// would have the whole report refused. Each message is cut to `maxMessageBytes`, unit and identifier to
/// `maxNameBytes` (SCHEMA.md "Ranges"), and attaching stops once the text of the events would pass
/// `maxAttachedBytes`; both cuts are counted in the report.
struct NotableBudget {
    /// One message: room for a long kernel Oops line or a sudo command line.
    static let maxMessageBytes = 1024
    /// A journal unit or identifier: the collector's limit for names.
    static let maxNameBytes = 256
    /// The message, unit and identifier bytes of all attached events together. Even if every byte were a
    /// control character that JSON escapes as `\u00XX` (×6) and the JWS then base64url-encodes (×4/3),
    /// this is 256 KiB, a quarter of the collector's default `attestations.maxBodyBytes` (1 MiB).
    static let maxAttachedBytes = 32 * 1024
    static let truncationMark = "…"

    private(set) var remaining = Self.maxAttachedBytes
    private(set) var truncated = 0
    private(set) var exhausted = false

    /// The event with its text cut to size, or nil (and no more events after it) once the budget is spent.
    mutating func admit(_ event: JournalEvent) -> JournalEvent? {
        guard !exhausted else { return nil }
        var event = event
        var cut = false
        event.message = Self.prefix(event.message, maxBytes: Self.maxMessageBytes, cut: &cut)
        event.unit = event.unit.map { Self.prefix($0, maxBytes: Self.maxNameBytes, cut: &cut) }
        event.identifier = event.identifier.map { Self.prefix($0, maxBytes: Self.maxNameBytes, cut: &cut) }
        let cost = event.message.utf8.count + (event.unit?.utf8.count ?? 0) + (event.identifier?.utf8.count ?? 0)
        guard cost <= remaining else {
            // Older events are not attached either: the ones attached stay the newest, without gaps.
            exhausted = true
            return nil
        }
        remaining -= cost
        if cut { truncated += 1 }
        return event
    }

    /// `text` when it fits in `maxBytes` of UTF-8; otherwise its longest prefix that ends on a character
    /// boundary and leaves room for the mark, then the mark.
    static func prefix(_ text: String, maxBytes: Int, cut: inout Bool) -> String {
        let utf8 = text.utf8
        guard utf8.count > maxBytes else { return text }
        cut = true
        var end = utf8.index(utf8.startIndex, offsetBy: max(0, maxBytes - truncationMark.utf8.count))
        // Back off continuation bytes (10xxxxxx) so no character is split.
        while end > utf8.startIndex, utf8[end] & 0xC0 == 0x80 { end = utf8.index(before: end) }
        return String(decoding: utf8[..<end], as: UTF8.self) + truncationMark
    }
}
