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
        var capacity = compressBound(uLong(bytes.count))
        var output = Data(count: Int(capacity))
        let status = output.withUnsafeMutableBytes { out in
            bytes.withUnsafeBytes { input in
                compress2(
                    out.baseAddress!.assumingMemoryBound(to: Bytef.self), &capacity,
                    input.baseAddress?.assumingMemoryBound(to: Bytef.self), uLong(bytes.count), 6)
            }
        }
        guard status == Z_OK else { throw Failure(description: "zlib compress2 failed (\(status))") }
        output.count = Int(capacity)
        return output
    }

    /// Inflates to exactly `size` bytes (stored beside the body); anything else is a damaged row.
    static func decompress(_ bytes: Data, size: Int) throws -> Data {
        guard size >= 0, size <= 16 << 20 else { throw Failure(description: "a stored body claims \(size) bytes") }
        var length = uLong(size)
        var output = Data(count: size)
        let status = output.withUnsafeMutableBytes { out in
            bytes.withUnsafeBytes { input in
                uncompress(
                    out.baseAddress?.assumingMemoryBound(to: Bytef.self) ?? UnsafeMutablePointer<Bytef>(bitPattern: 1)!,
                    &length, input.baseAddress?.assumingMemoryBound(to: Bytef.self), uLong(bytes.count))
            }
        }
        guard status == Z_OK, Int(length) == size else {
            throw Failure(description: "a stored report body does not inflate to its \(size) bytes (zlib \(status))")
        }
        return output
    }
}
