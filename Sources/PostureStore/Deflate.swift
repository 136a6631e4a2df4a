import CZlib

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// zlib (RFC 1950) for stored report bodies: a 3.4 kB report deflates to about a third.
enum Deflate {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func compress(_ bytes: Data) throws -> Data {
        let input = [UInt8](bytes)
        var capacity = compressBound(uLong(input.count))
        var output = [UInt8](repeating: 0, count: Int(capacity))
        let status = output.withUnsafeMutableBufferPointer { out in
            input.withUnsafeBufferPointer {
                compress2(out.baseAddress, &capacity, $0.baseAddress, uLong(input.count), 6)
            }
        }
        guard status == Z_OK else { throw Failure(description: "zlib compress2 failed (\(status))") }
        return Data(output.prefix(Int(capacity)))
    }

    /// Inflates to exactly `size` bytes (stored beside the body); anything else is a damaged row.
    static func decompress(_ bytes: Data, size: Int) throws -> Data {
        guard size > 0, size <= 16 << 20 else { throw Failure(description: "a stored body claims \(size) bytes") }
        let input = [UInt8](bytes)
        var length = uLong(size)
        var output = [UInt8](repeating: 0, count: size)
        let status = output.withUnsafeMutableBufferPointer { out in
            input.withUnsafeBufferPointer { uncompress(out.baseAddress, &length, $0.baseAddress, uLong(input.count)) }
        }
        guard status == Z_OK, Int(length) == size else {
            throw Failure(description: "a stored report body does not inflate to its \(size) bytes (zlib \(status))")
        }
        return Data(output)
    }
}
