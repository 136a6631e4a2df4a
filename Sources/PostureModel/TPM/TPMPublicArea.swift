import Crypto

/// A TPM object's public area (TPMT_PUBLIC, TPM 2.0 Part 2 §12.2.4) as far as Posture reads one: an ECC
/// P-256 key's type, name algorithm, attributes and point. Big-endian, as the TPM marshals it. Used by the
/// agent for its TPM-resident key and, for the same bytes a device sends, by the collector.
public struct TPMPublicArea: Sendable, Equatable {
    public static let algorithmECC: UInt16 = 0x0023
    public static let algorithmSHA256: UInt16 = 0x000B
    public static let algorithmNull: UInt16 = 0x0010
    public static let curveP256: UInt16 = 0x0003

    /// TPMA_OBJECT bits (Part 2 §8.3).
    public struct Attributes: OptionSet, Sendable, Equatable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let fixedTPM = Attributes(rawValue: 1 << 1)
        public static let fixedParent = Attributes(rawValue: 1 << 4)
        public static let sensitiveDataOrigin = Attributes(rawValue: 1 << 5)
        public static let userWithAuth = Attributes(rawValue: 1 << 6)
        public static let noDA = Attributes(rawValue: 1 << 10)
        public static let restricted = Attributes(rawValue: 1 << 16)
        public static let decrypt = Attributes(rawValue: 1 << 17)
        public static let sign = Attributes(rawValue: 1 << 18)
    }

    public var type: UInt16
    public var nameAlgorithm: UInt16
    public var attributes: Attributes
    public var authPolicy: [UInt8]
    /// TPMT_SYM_DEF_OBJECT: the algorithm (AES 0x0006, or NULL), its key bits and mode (CFB 0x0043).
    public var symmetric: (algorithm: UInt16, keyBits: UInt16, mode: UInt16)
    /// TPMT_ECC_SCHEME: the signing scheme and its hash (NULL when the key has none).
    public var scheme: (algorithm: UInt16, hash: UInt16)
    public var curve: UInt16
    /// The point's coordinates as the TPM wrote them.
    public var x: [UInt8]
    public var y: [UInt8]
    /// The P-256 point, when the object is one.
    public var publicKey: P256.Signing.PublicKey?
    /// The marshalled TPMT_PUBLIC: what the object's Name is the digest of.
    public var bytes: [UInt8]

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.bytes == rhs.bytes }

    /// The object's Name: its name algorithm, then that digest of the TPMT_PUBLIC (Part 1 §16). Nil for a
    /// name algorithm other than SHA-256 and SHA-384.
    public var name: [UInt8]? {
        let algorithm = [UInt8(nameAlgorithm >> 8), UInt8(nameAlgorithm & 0xff)]
        switch nameAlgorithm {
        case Self.algorithmSHA256: return algorithm + Array(SHA256.hash(data: bytes))
        case Self.algorithmSHA384: return algorithm + Array(SHA384.hash(data: bytes))
        default: return nil
        }
    }

    public static let algorithmSHA384: UInt16 = 0x000C
    public static let algorithmAES: UInt16 = 0x0006
    public static let algorithmCFB: UInt16 = 0x0043
    public static let algorithmECDSA: UInt16 = 0x0018
    public static let curveP384: UInt16 = 0x0004

    public struct Malformed: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads a marshalled TPM2B_PUBLIC (a 2-byte size, then the TPMT_PUBLIC), refusing trailing bytes.
    public init(tpm2bPublic data: [UInt8]) throws(Malformed) {
        var reader = TPMReader(data[...])
        let size = try reader.u16()
        guard Int(size) == reader.remaining else {
            throw Malformed(description: "TPM2B_PUBLIC says \(size) bytes but holds \(reader.remaining)")
        }
        try self.init(tpmtPublic: Array(data.dropFirst(2)))
    }

    public init(tpmtPublic data: [UInt8]) throws(Malformed) {
        var reader = TPMReader(data[...])
        bytes = data
        type = try reader.u16()
        nameAlgorithm = try reader.u16()
        attributes = Attributes(rawValue: try reader.u32())
        authPolicy = Array(try reader.sized())
        guard type == Self.algorithmECC else {
            throw Malformed(description: "the key is not an ECC key (TPM_ALG 0x\(String(type, radix: 16)))")
        }
        // TPMS_ECC_PARMS: symmetric, scheme, curve, kdf; each algorithm other than NULL has details.
        let symmetricAlgorithm = try reader.u16()
        symmetric =
            symmetricAlgorithm == Self.algorithmNull
            ? (symmetricAlgorithm, 0, 0) : (symmetricAlgorithm, try reader.u16(), try reader.u16())
        let schemeAlgorithm = try reader.u16()
        scheme = schemeAlgorithm == Self.algorithmNull ? (schemeAlgorithm, 0) : (schemeAlgorithm, try reader.u16())
        curve = try reader.u16()
        if try reader.u16() != Self.algorithmNull { _ = try reader.u16() }
        x = Array(try reader.sized())
        y = Array(try reader.sized())
        guard reader.remaining == 0 else { throw Malformed(description: "trailing bytes after the ECC point") }
        if curve == Self.curveP256, x.count <= 32, y.count <= 32 {
            let point = [0x04] + Self.pad(x[...]) + Self.pad(y[...])
            publicKey = try? P256.Signing.PublicKey(x963Representation: point)
        } else {
            publicKey = nil
        }
    }

    private static func pad(_ value: ArraySlice<UInt8>) -> [UInt8] {
        [UInt8](repeating: 0, count: 32 - value.count) + value
    }
}

/// Reads the TPM's big-endian marshalling; running out is `TPMPublicArea.Malformed`.
package struct TPMReader {
    var data: ArraySlice<UInt8>
    package init(_ data: ArraySlice<UInt8>) { self.data = data }
    package var remaining: Int { data.count }

    package mutating func take(_ count: Int) throws(TPMPublicArea.Malformed) -> ArraySlice<UInt8> {
        guard data.count >= count else { throw TPMPublicArea.Malformed(description: "the structure ends early") }
        defer { data = data.dropFirst(count) }
        return data.prefix(count)
    }
    package mutating func u8() throws(TPMPublicArea.Malformed) -> UInt8 { try take(1).first ?? 0 }
    package mutating func u16() throws(TPMPublicArea.Malformed) -> UInt16 {
        try take(2).reduce(0) { $0 << 8 | UInt16($1) }
    }
    package mutating func u32() throws(TPMPublicArea.Malformed) -> UInt32 {
        try take(4).reduce(0) { $0 << 8 | UInt32($1) }
    }
    package mutating func u64() throws(TPMPublicArea.Malformed) -> UInt64 {
        try take(8).reduce(0) { $0 << 8 | UInt64($1) }
    }
    /// A TPM2B: a 2-byte size, then that many bytes.
    package mutating func sized() throws(TPMPublicArea.Malformed) -> ArraySlice<UInt8> {
        try take(Int(try u16()))
    }
}
