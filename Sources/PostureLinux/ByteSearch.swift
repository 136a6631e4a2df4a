#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

extension String {
    /// Byte-wise substring search (memchr for the first byte, then memcmp). The standard library's
    /// `contains(_:)` for strings builds a searcher on every call, which cost about 40 µs per journal
    /// entry; this costs tens of nanoseconds.
    public func containsBytes(_ pattern: StaticString) -> Bool {
        let count = pattern.utf8CodeUnitCount
        guard count > 0 else { return true }
        let needle = pattern.utf8Start
        var copy = self
        return copy.withUTF8 { haystack in
            guard var cursor = haystack.baseAddress, haystack.count >= count else { return false }
            let end = cursor + haystack.count
            while end - cursor >= count {
                guard let hit = memchr(cursor, Int32(needle.pointee), end - cursor - count + 1) else { return false }
                let start = hit.assumingMemoryBound(to: UInt8.self)
                if memcmp(start, needle, count) == 0 { return true }
                cursor = UnsafePointer(start) + 1
            }
            return false
        }
    }
}

extension String {
    /// Byte-wise prefix test: `hasPrefix(_:)` compares by Unicode canonical equivalence, which a log
    /// message needs no more than a byte comparison does, and which costs ten times as much.
    public func hasPrefixBytes(_ pattern: StaticString) -> Bool {
        let count = pattern.utf8CodeUnitCount
        var copy = self
        return copy.withUTF8 { bytes in
            guard count > 0 else { return true }
            guard let base = bytes.baseAddress, bytes.count >= count else { return false }
            return memcmp(base, pattern.utf8Start, count) == 0
        }
    }
}
