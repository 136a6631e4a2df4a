import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Every list of the fleet API pages alike: `limit`, an opaque `cursor`, `nextCursor` absent on the last page.
/// The lists kept whole (waivers, tokens, streams: operator-made, so hundreds, not a fleet) are paged here,
/// newest first with ties by ID; the device list and the events are paged by the store.
public struct ListPage<Item: Sendable>: Sendable {
    public var items: [Item]
    public var nextCursor: String?

    /// `limit` from 1 to 500 (default 100); `cursor` the one the page before gave, or nil for the first.
    init(_ all: [Item], created: (Item) -> Date, id: (Item) -> String, limit: Int?, cursor: String?)
        throws(AttestationRefusal)
    {
        let limit = limit ?? 100
        guard (1...500).contains(limit) else {
            throw AttestationRefusal(.malformedRequest, "limit=\(limit): use a number from 1 to 500")
        }
        func key(_ item: Item) -> Key {
            Key(millis: Int64((created(item).timeIntervalSince1970 * 1000).rounded()), id: id(item))
        }
        var sorted = all.sorted { key($0) > key($1) }
        if let cursor, !cursor.isEmpty {
            guard let after = Key(cursor: cursor) else {
                throw AttestationRefusal(
                    .malformedRequest, "cursor: not one this collector gave; start again without it")
            }
            sorted.removeAll { key($0) >= after }
        }
        items = Array(sorted.prefix(limit))
        nextCursor = sorted.count > limit ? items.last.map { key($0).cursor } : nil
    }

    /// Where a page ends: the creation time in milliseconds, then the ID.
    struct Key: Comparable {
        var millis: Int64
        var id: String

        static func < (a: Key, b: Key) -> Bool { (a.millis, a.id) < (b.millis, b.id) }

        var cursor: String { Base64URL.encode(Array("\(millis).\(id)".utf8)) }

        init(millis: Int64, id: String) {
            self.millis = millis
            self.id = id
        }

        init?(cursor: String) {
            guard cursor.utf8.count <= 512, let bytes = Base64URL.decode(cursor),
                let text = String(validating: bytes, as: UTF8.self), let dot = text.firstIndex(of: "."),
                let millis = Int64(text[..<dot])
            else { return nil }
            self.init(millis: millis, id: String(text[text.index(after: dot)...]))
        }
    }
}

/// The pages as the API names their items.
public struct WaiverPage: Codable, Sendable {
    public var waivers: [Waiver]
    public var nextCursor: String?
}

public struct EnrollmentTokenPage: Codable, Sendable {
    public var tokens: [EnrollmentTokenView]
    public var nextCursor: String?
}

public struct APITokenPage: Codable, Sendable {
    public var tokens: [APITokenView]
    public var nextCursor: String?
}

struct OperatorStreamPage: Codable, Sendable {
    var streams: [OperatorStreamView]
    var nextCursor: String?
}
