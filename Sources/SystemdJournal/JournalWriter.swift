import CSystemd

#if canImport(Glibc)
    import Glibc
#endif

/// Structured entries to the systemd journal (`sd_journal_sendv`; the variadic `sd_journal_send` is not
/// callable from Swift). Field names are upper case; `MESSAGE` and `MESSAGE_ID` are the ones people search.
public enum JournalWriter {
    /// True when standard error already goes to the journal (systemd sets `$JOURNAL_STREAM` to that
    /// stream's device:inode): a line logged there would repeat an entry sent here.
    public static let standardErrorIsJournal: Bool = {
        guard let stream = getenv("JOURNAL_STREAM").map({ String(cString: $0) }) else { return false }
        var info = stat()
        guard fstat(2, &info) == 0 else { return false }
        return stream == "\(info.st_dev):\(info.st_ino)"
    }()

    /// Sends one entry; returns false when journald cannot be reached (the caller also logs to stderr).
    @discardableResult
    public static func send(_ fields: [(name: String, value: String)]) -> Bool {
        let lines = fields.map { Array("\($0.name)=\($0.value)".utf8) }
        let storage = lines.map { line -> UnsafeMutableRawPointer in
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(line.count, 1), alignment: 1)
            buffer.copyMemory(from: line, byteCount: line.count)
            return buffer
        }
        defer { for buffer in storage { buffer.deallocate() } }
        var vectors = zip(storage.indices, lines).map { index, line in
            iovec(iov_base: storage[index], iov_len: line.count)
        }
        return vectors.withUnsafeMutableBufferPointer { buffer in
            sd_journal_sendv(buffer.baseAddress, Int32(buffer.count)) >= 0
        }
    }
}
