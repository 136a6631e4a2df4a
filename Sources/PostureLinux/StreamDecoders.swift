import CLZ4
import CLZMA
import CZchunkReader
import CZlib
import CZstd
import PostureSystem

/// One step of a streaming decompressor over `IndexFileReader`'s buffers: how much input it took, how much
/// output it made, and whether the stream (or the last of several concatenated ones) has just ended.
/// Input after an end starts a new stream, as `gzip -d`, `xz -d` and `zstd -d` read concatenated files.
protocol StreamDecoder {
    static var call: String { get }
    mutating func decode(
        _ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) throws(SystemError) -> (consumed: Int, produced: Int, ended: Bool)
    /// After the last input: output still held, and whether the data ended where a stream may end.
    mutating func finish(into output: UnsafeMutableRawBufferPointer) throws(SystemError) -> (produced: Int, ended: Bool)
}

extension StreamDecoder {
    /// The decoders that say so in `decode` have nothing more at the end of the file.
    mutating func finish(into output: UnsafeMutableRawBufferPointer) throws(SystemError) -> (produced: Int, ended: Bool)
    {
        (0, false)
    }
}

struct LZ4Decoder: StreamDecoder {
    static let call = "LZ4F_decompress"
    let subject: String
    let context: Box<OpaquePointer>

    init(_ subject: String) throws(SystemError) {
        self.subject = subject
        var context: OpaquePointer?
        guard LZ4F_isError(LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))) == 0, let context else {
            throw SystemError(code: .unsupported, call: "LZ4F_createDecompressionContext", subject: subject)
        }
        self.context = Box(context) { LZ4F_freeDecompressionContext($0) }
    }

    mutating func decode(
        _ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) throws(SystemError) -> (consumed: Int, produced: Int, ended: Bool) {
        var consumed = input.count
        var produced = output.count
        let hint = LZ4F_decompress(context.value, output.baseAddress, &produced, input.baseAddress, &consumed, nil)
        if LZ4F_isError(hint) != 0 {
            let name = String(cString: LZ4F_getErrorName(hint))
            throw SystemError(code: .malformed, call: Self.call, subject: subject, detail: name)
        }
        return (consumed, produced, hint == 0)
    }
}

struct GzipDecoder: StreamDecoder {
    static let call = "inflate"
    let subject: String
    let stream: Box<UnsafeMutablePointer<z_stream>>
    var ended = false

    init(_ subject: String) throws(SystemError) {
        self.subject = subject
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // 15 + 16: a gzip wrapper, the largest window.
        guard inflateInit2_(stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            stream.deallocate()
            throw SystemError(code: .unsupported, call: "inflateInit2", subject: subject)
        }
        self.stream = Box(stream) {
            inflateEnd($0)
            $0.deallocate()
        }
    }

    mutating func decode(
        _ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) throws(SystemError) -> (consumed: Int, produced: Int, ended: Bool) {
        let z = stream.value
        if ended, !input.isEmpty {
            inflateReset(z)  // the next member of a multi-member file
            ended = false
        }
        z.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        z.pointee.avail_in = uInt(input.count)
        z.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
        z.pointee.avail_out = uInt(output.count)
        let result = inflate(z, Z_NO_FLUSH)
        let consumed = input.count - Int(z.pointee.avail_in)
        let produced = output.count - Int(z.pointee.avail_out)
        switch result {
        case Z_STREAM_END: ended = true
        case Z_OK, Z_BUF_ERROR: break
        default:
            let message = z.pointee.msg.map { String(cString: $0) } ?? "error \(result)"
            throw SystemError(code: .malformed, call: Self.call, subject: subject, detail: message)
        }
        return (consumed, produced, ended)
    }
}

struct XZDecoder: StreamDecoder {
    static let call = "lzma_code"
    let subject: String
    let stream: Box<UnsafeMutablePointer<lzma_stream>>

    init(_ subject: String) throws(SystemError) {
        self.subject = subject
        let stream = UnsafeMutablePointer<lzma_stream>.allocate(capacity: 1)
        stream.initialize(to: lzma_stream())
        self.stream = Box(stream) {
            lzma_end($0)
            $0.deallocate()
        }
        // At most 256 MiB of dictionary: xz -9 uses 64 MiB; more is a file made to exhaust the agent.
        // Concatenated: several streams and stream padding, as `xz -d` reads them; the end is known at LZMA_FINISH.
        // 0x08 is LZMA_CONCATENATED, a macro Swift does not import.
        guard lzma_stream_decoder(stream, 256 << 20, 0x08) == LZMA_OK else {
            throw SystemError(code: .unsupported, call: "lzma_stream_decoder", subject: subject)
        }
    }

    private func step(
        _ input: UnsafeRawBufferPointer, _ output: UnsafeMutableRawBufferPointer, _ action: lzma_action
    ) throws(SystemError) -> (consumed: Int, produced: Int, ended: Bool) {
        let x = stream.value
        x.pointee.next_in = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
        x.pointee.avail_in = input.count
        x.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: UInt8.self)
        x.pointee.avail_out = output.count
        let result = lzma_code(x, action)
        let consumed = input.count - x.pointee.avail_in
        let produced = output.count - x.pointee.avail_out
        switch result {
        case LZMA_STREAM_END: return (consumed, produced, true)
        case LZMA_OK: return (consumed, produced, false)
        case LZMA_BUF_ERROR where action == LZMA_RUN: return (consumed, produced, false)
        case LZMA_BUF_ERROR:
            throw SystemError(code: .malformed, call: Self.call, subject: subject, detail: "the stream is cut short")
        case LZMA_MEMLIMIT_ERROR:
            throw SystemError(
                code: .tooLarge, call: Self.call, subject: subject, detail: "needs more than 256 MiB to decompress")
        default:
            throw SystemError(
                code: .malformed, call: Self.call, subject: subject, detail: "xz error \(result.rawValue)")
        }
    }

    mutating func decode(
        _ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) throws(SystemError) -> (consumed: Int, produced: Int, ended: Bool) {
        try step(input, output, LZMA_RUN)
    }

    mutating func finish(into output: UnsafeMutableRawBufferPointer) throws(SystemError) -> (produced: Int, ended: Bool)
    {
        let result = try step(UnsafeRawBufferPointer(start: nil, count: 0), output, LZMA_FINISH)
        return (result.produced, result.ended)
    }
}

struct ZstdDecoder: StreamDecoder {
    static let call = "ZSTD_decompressStream"
    let subject: String
    let context: Box<OpaquePointer>

    init(_ subject: String) throws(SystemError) {
        self.subject = subject
        guard let context = ZSTD_createDCtx() else {
            throw SystemError(code: .unsupported, call: "ZSTD_createDCtx", subject: subject)
        }
        // At most a 256 MiB window (2^28): zstd's own default limit for streaming is 128 MiB.
        ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, 28)
        self.context = Box(context) { ZSTD_freeDCtx($0) }
    }

    mutating func decode(
        _ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) throws(SystemError) -> (consumed: Int, produced: Int, ended: Bool) {
        var source = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        var target = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
        let hint = ZSTD_decompressStream(context.value, &target, &source)
        if ZSTD_isError(hint) != 0 {
            let name = String(cString: ZSTD_getErrorName(hint))
            throw SystemError(code: .malformed, call: Self.call, subject: subject, detail: name)
        }
        // 0: a frame is complete and all its output given.
        return (source.pos, target.pos, hint == 0)
    }
}

/// zchunk through libzck (`CZchunkReader`): it reads the open file itself, checking each chunk's checksum.
struct ZchunkReader {
    let subject: String
    let context: Box<OpaquePointer>

    init(_ fd: Int32, _ subject: String) throws(SystemError) {
        self.subject = subject
        var message = [CChar](repeating: 0, count: 256)
        var reader: OpaquePointer?
        let opened = message.withUnsafeMutableBufferPointer { posture_zck_open(fd, &reader, $0.baseAddress, $0.count) }
        guard opened == 0, let reader else {
            throw SystemError(
                code: .malformed, call: "zck_init_read", subject: subject, detail: String(nulTerminated: message))
        }
        context = Box(reader) { posture_zck_close($0) }
    }

    mutating func read(into buffer: inout [UInt8]) throws(SystemError) -> Int {
        var message = [CChar](repeating: 0, count: 256)
        let count = buffer.withUnsafeMutableBytes { target in
            message.withUnsafeMutableBufferPointer {
                posture_zck_read(context.value, target.baseAddress, target.count, $0.baseAddress, $0.count)
            }
        }
        guard count >= 0 else {
            throw SystemError(
                code: .malformed, call: "zck_read", subject: subject, detail: String(nulTerminated: message))
        }
        return count
    }
}

/// Owns a C resource for a decoder's lifetime (the decoders are structs; the contexts are not copyable).
final class Box<Value> {
    let value: Value
    private let release: (Value) -> Void

    init(_ value: Value, release: @escaping (Value) -> Void) {
        self.value = value
        self.release = release
    }

    deinit { release(value) }
}
