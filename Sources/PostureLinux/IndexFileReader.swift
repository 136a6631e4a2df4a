import PostureSystem

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Reads a package index (a dpkg status file, an apt `Packages` list, dnf's repository metadata) as it is
/// decompressed, without holding it in memory: Debian's main list is about 50 MB, Fedora's primary metadata
/// several times that. Plain, LZ4 (apt's `Acquire::GzipIndexes` in Debian's container images), gzip, xz, zstd
/// and zchunk (Fedora's repodata, through libzck where it is installed) are read; bzip2 is refused by name, so
/// the caller can say which file it could not read.
public enum IndexFileReader {
    /// The compressions apt and createrepo may keep indexes in (apt.conf(5), `Acquire::CompressionTypes`;
    /// `.zck`: zchunk, what dnf fetches from Fedora).
    public static let compressions = [".lz4", ".gz", ".xz", ".zst", ".zck", ".bz2"]

    /// Whether `name` is a form this reader can read: plain, LZ4, gzip, xz, zstd or zchunk.
    public static func canRead(_ name: String) -> Bool { !name.hasSuffix(".bz2") }

    /// Calls `line` with every line (without its newline) of the file, valid only during the call;
    /// refuses more than `limit` bytes of (decompressed) text, so a crafted list cannot keep the agent
    /// reading forever. Lines are found with memchr: this runs over 50 MB per cold read, in debug builds too.
    public static func forEachLine(
        _ path: String, limit: Int = 1 << 30, _ line: (UnsafeBufferPointer<UInt8>) -> Void
    ) throws(SystemError) {
        var splitter = LineSplitter(subject: path)
        try forEachChunk(path, limit: limit) { (bytes) throws(SystemError) in try splitter.feed(bytes, line) }
        splitter.finish(line)
    }

    /// Calls `chunk` with the file's (decompressed) bytes in order, in pieces of at most 256 KiB; refuses more
    /// than `limit` bytes in all, and a compressed stream that is cut short or corrupt.
    public static func forEachChunk(
        _ path: String, limit: Int = 1 << 30, _ chunk: (ArraySlice<UInt8>) throws(SystemError) -> Void
    ) throws(SystemError) {
        guard canRead(path) else {
            throw SystemError(
                code: .unsupported, call: "read", subject: path, detail: "compressed in a form the agent does not read")
        }
        var total = 0
        func bounded(_ bytes: ArraySlice<UInt8>) throws(SystemError) {
            total += bytes.count
            if total > limit {
                throw SystemError(
                    code: .tooLarge, call: "read", subject: path, detail: "more than \(limit) bytes of text")
            }
            try chunk(bytes)
        }
        let fd = try open(path)
        defer { close(fd) }
        func decodeAll<D: StreamDecoder>(_ decoder: D) throws(SystemError) {
            var decoder = decoder
            try decode(fd, path, &decoder, bounded)
        }
        if path.hasSuffix(".lz4") {
            try decodeAll(LZ4Decoder(path))
        } else if path.hasSuffix(".gz") {
            try decodeAll(GzipDecoder(path))
        } else if path.hasSuffix(".xz") {
            try decodeAll(XZDecoder(path))
        } else if path.hasSuffix(".zst") {
            try decodeAll(ZstdDecoder(path))
        } else if path.hasSuffix(".zck") {
            var reader = try ZchunkReader(fd, path)
            var buffer = [UInt8](repeating: 0, count: 1 << 18)
            while true {
                let count = try reader.read(into: &buffer)
                if count == 0 { return }
                try bounded(buffer[0..<count])
            }
        } else {
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = try readChunk(fd, &buffer, path)
                if count == 0 { return }
                try bounded(buffer[0..<count])
            }
        }
    }

    /// The loop every compression shares: read 64 KiB, decode it in as many steps as the output needs.
    private static func decode<D: StreamDecoder>(
        _ fd: Int32, _ path: String, _ decoder: inout D, _ chunk: (ArraySlice<UInt8>) throws(SystemError) -> Void
    ) throws(SystemError) {
        var input = [UInt8](repeating: 0, count: 1 << 16)
        var output = [UInt8](repeating: 0, count: 1 << 18)
        var ended = false
        while true {
            let count = try readChunk(fd, &input, path)
            if count == 0 { break }
            var offset = 0
            // Also drain what the decoder holds once the input is consumed (xz and zstd buffer output).
            repeat {
                let step = try input[offset..<count].withUnsafeBytes { source in
                    output.withUnsafeMutableBytes { target in
                        Result { () throws(SystemError) in try decoder.decode(source, into: target) }
                    }
                }.get()
                offset += step.consumed
                if step.produced > 0 { try chunk(output[0..<step.produced]) }
                ended = step.ended
                if step.consumed == 0 && step.produced == 0 && offset < count {
                    throw SystemError(
                        code: .malformed, call: D.call, subject: path, detail: "the decoder makes no progress")
                }
                // An end means everything is out (zstd and LZ4 would read an empty input as a new frame's
                // start); otherwise output short of full means the decoder holds nothing more.
                if offset == count && (step.ended || step.produced < output.count) { break }
            } while true
        }
        // At the end of the file: what a decoder that waits for more streams (xz) still has to say.
        while !ended {
            let step = try output.withUnsafeMutableBytes { target in
                Result { () throws(SystemError) in try decoder.finish(into: target) }
            }.get()
            if step.produced > 0 { try chunk(output[0..<step.produced]) }
            ended = step.ended
            if step.produced == 0 { break }
        }
        guard ended else {
            throw SystemError(code: .malformed, call: D.call, subject: path, detail: "the stream is cut short")
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
    let subject: String
    var carry: [UInt8] = []

    init(subject: String) { self.subject = subject }

    mutating func feed(_ bytes: ArraySlice<UInt8>, _ line: (UnsafeBufferPointer<UInt8>) -> Void) throws(SystemError) {
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
