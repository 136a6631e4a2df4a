import CSQLiteReader
import PostureSystem

/// Reads a column of blobs from an SQLite file that another program owns (rpm's `rpmdb.sqlite`), read-only,
/// through libsqlite3 loaded at run time (`CSQLiteReader`).
public enum SQLiteBlobReader {
    /// Calls `row` with the first column of each row `sql` selects, valid only during the call; stops
    /// after `limit` rows, so a database grown without bound cannot keep the agent reading.
    public static func forEachBlob(
        _ path: String, sql: String, limit: Int, _ row: (UnsafeRawBufferPointer) throws(SystemError) -> Void
    ) throws(SystemError) {
        var message = [CChar](repeating: 0, count: 512)
        var reader: OpaquePointer?
        let opened = message.withUnsafeMutableBufferPointer {
            posture_sqlite_open(path, sql, &reader, $0.baseAddress, $0.count)
        }
        guard opened == 0, let reader else {
            throw SystemError(
                code: .ioFailure, call: "sqlite3_open_v2", subject: path, detail: String(nulTerminated: message))
        }
        defer { posture_sqlite_close(reader) }
        var count = 0
        while true {
            var bytes: UnsafeRawPointer?
            var size: Int32 = 0
            let step = message.withUnsafeMutableBufferPointer {
                posture_sqlite_next(reader, &bytes, &size, $0.baseAddress, $0.count)
            }
            if step == 0 { return }
            guard step == 1 else {
                throw SystemError(
                    code: .ioFailure, call: "sqlite3_step", subject: path, detail: String(nulTerminated: message))
            }
            count += 1
            if count > limit {
                throw SystemError(
                    code: .tooLarge, call: "sqlite3_step", subject: path, detail: "more than \(limit) rows")
            }
            try row(UnsafeRawBufferPointer(start: bytes, count: bytes == nil ? 0 : Int(size)))
        }
    }
}

extension String {
    /// The message a C layer wrote into `buffer`, up to its NUL.
    init(nulTerminated buffer: [CChar]) {
        self.init(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
