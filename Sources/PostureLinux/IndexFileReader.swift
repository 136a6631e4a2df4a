import CLZ4
import PostureSystem

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Reads a package index (a dpkg status file, an apt `Packages` list) line by line, without holding it in
/// memory: Debian's main list is about 50 MB. apt may keep its lists LZ4-compressed (`Acquire::GzipIndexes`
/// with lz4, as Debian's container images do); a `.lz4` file is decompressed as it is read. Other
/// compressions are refused by name, so the caller can say which list it could not read.
public enum IndexFileReader {
    /// The compressions apt may keep its lists in (apt.conf(5), `Acquire::CompressionTypes`).
    public static let compressions = [".lz4", ".gz", ".xz", ".zst", ".bz2"]

    /// Whether `name` is a form this reader can read: plain, or LZ4.
    public static func canRead(_ name: String) -> Bool {
        !compressions.contains { $0 != ".lz4" && name.hasSuffix($0) }
    }

    /// Calls `line` with every line (without its newline) of the file, valid only during the call;
    /// refuses more than `limit` bytes of (decompressed) text, so a crafted list cannot keep the agent
    /// reading forever. Lines are found with memchr: this runs over 50 MB per cold read, in debug builds too.
    public static func forEachLine(
        _ path: String, limit: Int = 1 << 30, _ line: (UnsafeBufferPointer<UInt8>) -> Void
    ) throws(SystemError) {
        guard canRead(path) else {
            throw SystemError(
                code: .unsupported, call: "read", subject: path, detail: "compressed in a form the agent does not read")
        }
        var splitter = LineSplitter(limit: limit, subject: path)
        if path.hasSuffix(".lz4") {
            try readLZ4(path) { (bytes) throws(SystemError) in try splitter.feed(bytes, line) }
        } else {
            try readPlain(path) { (bytes) throws(SystemError) in try splitter.feed(bytes, line) }
        }
        splitter.finish(line)
    }

    private static func readPlain(
        _ path: String, _ chunk: (ArraySlice<UInt8>) throws(SystemError) -> Void
    ) throws(SystemError) {
        let fd = try open(path)
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = try readChunk(fd, &buffer, path)
            if count == 0 { return }
            try chunk(buffer[0..<count])
        }
    }

    private static func readLZ4(
        _ path: String, _ chunk: (ArraySlice<UInt8>) throws(SystemError) -> Void
    ) throws(SystemError) {
        let fd = try open(path)
        defer { close(fd) }
        var context: OpaquePointer?
        guard LZ4F_isError(LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))) == 0, let context
        else {
            throw SystemError(code: .unsupported, call: "LZ4F_createDecompressionContext", subject: path, detail: "")
        }
        defer { LZ4F_freeDecompressionContext(context) }
        var input = [UInt8](repeating: 0, count: 1 << 16)
        var output = [UInt8](repeating: 0, count: 1 << 18)
        var finished = false
        while true {
            let count = try readChunk(fd, &input, path)
            if count == 0 { break }
            var offset = 0
            while offset < count {
                var consumed = count - offset
                var produced = output.count
                let hint = input[offset...].withUnsafeBytes { source in
                    output.withUnsafeMutableBytes { target in
                        LZ4F_decompress(context, target.baseAddress, &produced, source.baseAddress, &consumed, nil)
                    }
                }
                if LZ4F_isError(hint) != 0 {
                    let name = String(cString: LZ4F_getErrorName(hint))
                    throw SystemError(code: .malformed, call: "LZ4F_decompress", subject: path, detail: name)
                }
                offset += consumed
                if produced > 0 { try chunk(output[0..<produced]) }
                finished = hint == 0
                if consumed == 0 && produced == 0 {
                    throw SystemError(
                        code: .malformed, call: "LZ4F_decompress", subject: path, detail: "no progress on the frame")
                }
            }
        }
        guard finished else {
            throw SystemError(
                code: .malformed, call: "LZ4F_decompress", subject: path, detail: "the LZ4 frame is cut short")
        }
    }

    private static func open(_ path: String) throws(SystemError) -> Int32 {
        Int32(try retryingEINTR("open", subject: path) { Int(Glibc.open(path, O_RDONLY | O_CLOEXEC)) })
    }

    private static func readChunk(_ fd: Int32, _ buffer: inout [UInt8], _ path: String) throws(SystemError) -> Int {
        try retryingEINTR("read", subject: path) {
            buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        }
    }
}

/// Cuts a stream of bytes into lines, carrying a partial line from one chunk to the next.
private struct LineSplitter {
    let limit: Int
    let subject: String
    var carry: [UInt8] = []
    var total = 0

    init(limit: Int, subject: String) {
        self.limit = limit
        self.subject = subject
    }

    mutating func feed(_ bytes: ArraySlice<UInt8>, _ line: (UnsafeBufferPointer<UInt8>) -> Void) throws(SystemError) {
        total += bytes.count
        if total > limit {
            throw SystemError(
                code: .tooLarge, call: "read", subject: subject, detail: "more than \(limit) bytes of text")
        }
        let rest: Int = bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return 0 }
            var start = 0
            while start < buffer.count,
                let found = memchr(base + start, Int32(UInt8(ascii: "\n")), buffer.count - start)
            {
                let newline = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
                if carry.isEmpty {
                    line(UnsafeBufferPointer(rebasing: buffer[start..<newline]))
                } else {
                    carry.append(contentsOf: buffer[start..<newline])
                    carry.withUnsafeBufferPointer { line($0) }
                    carry.removeAll(keepingCapacity: true)
                }
                start = newline + 1
            }
            return start
        }
        carry.append(contentsOf: bytes[(bytes.startIndex + rest)...])
        if carry.count > 1 << 20 {
            throw SystemError(code: .tooLarge, call: "read", subject: subject, detail: "a line longer than 1 MiB")
        }
    }

    func finish(_ line: (UnsafeBufferPointer<UInt8>) -> Void) {
        if !carry.isEmpty { carry.withUnsafeBufferPointer { line($0) } }
    }
}
