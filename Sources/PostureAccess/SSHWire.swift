// The SSH wire encoding (RFC 4251 section 5) that keys, certificates and KRLs share: big-endian integers and
// length-prefixed strings, and nothing else this module needs.

/// Appends SSH wire fields to a byte buffer, in the order they are written.
struct SSHWireWriter {
    private(set) var bytes: [UInt8] = []

    mutating func appendByte(_ value: UInt8) {
        bytes.append(value)
    }

    mutating func appendUInt32(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
        }
    }

    mutating func appendUInt64(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    /// A `string`: uint32 length, then the bytes. Callers bound their inputs well below 4 GiB.
    mutating func appendString(_ value: some Collection<UInt8>) {
        appendUInt32(UInt32(truncatingIfNeeded: value.count))
        bytes.append(contentsOf: value)
    }

    mutating func appendString(_ value: String) {
        appendString(Array(value.utf8))
    }

    /// Raw bytes with no length prefix, for fields copied verbatim from another blob.
    mutating func appendRaw(_ value: some Collection<UInt8>) {
        bytes.append(contentsOf: value)
    }
}

/// Reads SSH wire fields from untrusted bytes, returning nil instead of trapping when they run short.
struct SSHWireReader {
    private let bytes: [UInt8]
    private(set) var offset: Int = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { offset == bytes.count }

    /// The bytes not read yet.
    var remaining: ArraySlice<UInt8> { bytes[offset...] }

    mutating func readUInt32() -> UInt32? {
        guard bytes.count - offset >= 4 else { return nil }
        var value: UInt32 = 0
        for byte in bytes[offset..<offset + 4] {
            value = value << 8 | UInt32(byte)
        }
        offset += 4
        return value
    }

    mutating func readString() -> ArraySlice<UInt8>? {
        let start = offset
        guard let length = readUInt32(), UInt64(length) <= UInt64(bytes.count - offset) else {
            offset = start
            return nil
        }
        let value = bytes[offset..<offset + Int(length)]
        offset += Int(length)
        return value
    }
}
