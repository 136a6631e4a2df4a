import CSystemd

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Which journal to read.
public enum JournalSource: Sendable, Equatable, CustomStringConvertible {
    /// The local system journal (below `root`'s `/var/log/journal` and `/run/log/journal`).
    case system(root: HostRoot)
    /// Every journal file in a directory (as `journalctl -D`).
    case directory(String)
    /// Exactly these files (as `journalctl --file`).
    case files([String])

    public var description: String {
        switch self {
        case .system(let root): return root.isLiveHost ? "system journal" : "system journal below \(root.path)"
        case .directory(let path): return "journal directory \(path)"
        case .files(let paths): return "journal files \(paths.joined(separator: ", "))"
        }
    }
}

/// Where to start reading.
public enum JournalStart: Sendable, Equatable {
    /// Strictly after the entry with this cursor (the entry itself is not returned again).
    case after(cursor: String)
    /// From the first entry at or after this wall-clock time, in microseconds since the epoch.
    case realtime(microseconds: UInt64)
    case head
}

/// Field names to read together with `JournalReader.read(_:)`, prepared once.
public struct FieldSet: Sendable {
    public let names: [String]
    /// Every `NAME=` prefix, back to back; `offsets[i]..<offsets[i + 1]` is the i-th.
    fileprivate let prefixes: [UInt8]
    fileprivate let offsets: [Int]

    public init(_ names: [String]) {
        self.names = names
        var prefixes: [UInt8] = []
        var offsets = [0]
        for name in names {
            prefixes += Array("\(name)=".utf8)
            offsets.append(prefixes.count)
        }
        self.prefixes = prefixes
        self.offsets = offsets
    }
}

/// A thin, synchronous reader over sd-journal. One instance belongs to one task at a time: sd-journal
/// handles are not thread-safe, so the type is deliberately not `Sendable`.
public final class JournalReader {
    private let handle: OpaquePointer
    private var pendingSkipCursor: String?

    public init(_ source: JournalSource) throws(SystemError) {
        var journal: OpaquePointer?
        let result: Int32
        switch source {
        case .system(let root):
            if root.isLiveHost {
                result = sd_journal_open(&journal, Int32(SD_JOURNAL_LOCAL_ONLY))
            } else {
                result = sd_journal_open_directory(&journal, root.path, Int32(SD_JOURNAL_OS_ROOT))
            }
        case .directory(let path):
            result = sd_journal_open_directory(&journal, path, 0)
        case .files(let paths):
            result = Self.withCStringArray(paths) { sd_journal_open_files(&journal, $0, 0) }
        }
        guard result >= 0, let journal else {
            throw SystemError.errno(-result, call: "sd_journal_open", subject: source.description)
        }
        handle = journal
    }

    deinit { sd_journal_close(handle) }

    /// Bytes of journal files open; zero means there was no journal file to open at all.
    public func usageBytes() -> UInt64 {
        var bytes: UInt64 = 0
        return sd_journal_get_usage(handle, &bytes) >= 0 ? bytes : 0
    }

    /// Restricts reading to entries matching any of `matches` (each `FIELD=value`). Matches on the same
    /// field are alternatives; groups are joined by disjunction, so every group is an alternative too.
    public func addMatches(anyOf groups: [[String]]) throws(SystemError) {
        for (index, group) in groups.enumerated() {
            if index > 0 {
                let result = sd_journal_add_disjunction(handle)
                if result < 0 { throw SystemError.errno(-result, call: "sd_journal_add_disjunction") }
            }
            for match in group {
                let result = match.withCString { sd_journal_add_match(handle, $0, 0) }
                if result < 0 { throw SystemError.errno(-result, call: "sd_journal_add_match", subject: match) }
            }
        }
    }

    public func seek(_ start: JournalStart) throws(SystemError) {
        let result: Int32
        pendingSkipCursor = nil
        switch start {
        case .after(let cursor):
            result = cursor.withCString { sd_journal_seek_cursor(handle, $0) }
            pendingSkipCursor = cursor
        case .realtime(let microseconds):
            result = sd_journal_seek_realtime_usec(handle, microseconds)
        case .head:
            result = sd_journal_seek_head(handle)
        }
        if result < 0 {
            throw SystemError.errno(
                -result, call: "sd_journal_seek", subject: "\(start)",
                detail: "a cursor must come from an earlier read of this journal")
        }
    }

    /// Moves to the next entry; false at the end. After `seek(.after(cursor))`, the cursor's own entry is
    /// skipped when it still exists; if it was vacuumed, reading resumes at the next entry that does.
    public func next() throws(SystemError) -> Bool {
        let result = sd_journal_next(handle)
        if result < 0 { throw SystemError.errno(-result, call: "sd_journal_next") }
        if result == 0 { return false }
        if let cursor = pendingSkipCursor {
            pendingSkipCursor = nil
            if cursor.withCString({ sd_journal_test_cursor(handle, $0) }) > 0 {
                return try next()
            }
        }
        return true
    }

    /// Several fields of the current entry in one pass over its data (one lookup per field costs a walk
    /// over all of the entry's items each time). Values come back in the order of `fields.names`.
    public func read(_ fields: FieldSet) -> [String?] {
        let count = fields.names.count
        var values = [String?](repeating: nil, count: count)
        var found: UInt64 = 0
        let all: UInt64 = count >= 64 ? .max : (1 << UInt64(count)) - 1
        var data: UnsafeRawPointer?
        var length = 0
        sd_journal_restart_data(handle)
        fields.prefixes.withUnsafeBufferPointer { prefixes in
            guard let prefixBase = prefixes.baseAddress else { return }
            fields.offsets.withUnsafeBufferPointer { offsets in
                while found != all, sd_journal_enumerate_available_data(handle, &data, &length) > 0, let data,
                    length > 0
                {
                    let bytes = data.assumingMemoryBound(to: UInt8.self)
                    for index in 0..<count where found & (1 << UInt64(index)) == 0 {
                        let start = offsets[index]
                        let prefixLength = offsets[index + 1] - start
                        guard length >= prefixLength, prefixes[start] == bytes[0],
                            memcmp(bytes, prefixBase + start, prefixLength) == 0
                        else { continue }
                        values[index] = String(
                            decoding: UnsafeBufferPointer(start: bytes + prefixLength, count: length - prefixLength),
                            as: UTF8.self)
                        found |= 1 << UInt64(index)
                        break
                    }
                }
            }
        }
        return values
    }

    /// Moves to the previous entry; false at the start.
    public func previous() throws(SystemError) -> Bool {
        let result = sd_journal_previous(handle)
        if result < 0 { throw SystemError.errno(-result, call: "sd_journal_previous") }
        return result > 0
    }

    /// True when the current entry is the one this cursor names.
    public func isAt(cursor: String) -> Bool {
        cursor.withCString { sd_journal_test_cursor(handle, $0) } > 0
    }

    /// The value of a field of the current entry, or nil when the entry has no such field.
    public func field(_ name: String) -> String? {
        var data: UnsafeRawPointer?
        var length = 0
        let result = name.withCString { sd_journal_get_data(handle, $0, &data, &length) }
        guard result >= 0, let data else { return nil }
        // sd-journal returns "NAME=value", not NUL-terminated.
        let prefix = name.utf8.count + 1
        guard length >= prefix else { return nil }
        let bytes = UnsafeRawBufferPointer(start: data + prefix, count: length - prefix)
        return String(decoding: bytes, as: UTF8.self)
    }

    public func cursor() throws(SystemError) -> String {
        var raw: UnsafeMutablePointer<CChar>?
        let result = sd_journal_get_cursor(handle, &raw)
        guard result >= 0, let raw else { throw SystemError.errno(-result, call: "sd_journal_get_cursor") }
        defer { free(raw) }
        return String(cString: raw)
    }

    public func realtimeMicroseconds() throws(SystemError) -> UInt64 {
        var value: UInt64 = 0
        let result = sd_journal_get_realtime_usec(handle, &value)
        if result < 0 { throw SystemError.errno(-result, call: "sd_journal_get_realtime_usec") }
        return value
    }

    private static func withCStringArray<R>(
        _ strings: [String], _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>) -> R
    ) -> R {
        let copies = strings.map { strdup($0) }
        defer { for copy in copies { free(copy) } }
        var pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) } + [nil]
        // The array is never empty (it ends in nil), so its buffer always has a base address.
        return pointers.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { preconditionFailure("empty C string array") }
            return body(base)
        }
    }
}
