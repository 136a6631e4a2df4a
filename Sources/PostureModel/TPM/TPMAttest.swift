import Crypto

/// A TPMS_ATTEST (TPM 2.0 Part 2 §10.12.12), the structure a TPM signs for Certify and Quote, and the check
/// of its signature. Only a restricted signing key (the attestation key) signs data starting with
/// TPM_GENERATED_VALUE, so a structure that verifies was made by the TPM.
public struct TPMAttest: Sendable, Equatable {
    public static let generatedValue: UInt32 = 0xff54_4347
    public static let typeCertify: UInt16 = 0x8017
    public static let typeQuote: UInt16 = 0x8018

    public var type: UInt16
    public var qualifiedSigner: [UInt8]
    public var extraData: [UInt8]
    public var clock: UInt64
    public var resetCount: UInt32
    public var restartCount: UInt32
    public var safe: Bool
    public var firmwareVersion: UInt64
    /// Certify: the certified object's Name.
    public var certifiedName: [UInt8]?
    /// Quote: the selected PCRs (bank hash, PCR indexes) and their digest.
    public var pcrSelection: [(hash: UInt16, pcrs: [Int])]
    public var pcrDigest: [UInt8]?
    public var bytes: [UInt8]

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.bytes == rhs.bytes }

    public init(_ data: [UInt8]) throws(TPMPublicArea.Malformed) {
        bytes = data
        var reader = TPMReader(data[...])
        guard try reader.u32() == Self.generatedValue else {
            throw TPMPublicArea.Malformed(description: "not made by a TPM (magic is not TPM_GENERATED_VALUE)")
        }
        type = try reader.u16()
        qualifiedSigner = Array(try reader.sized())
        extraData = Array(try reader.sized())
        clock = try reader.u64()
        resetCount = try reader.u32()
        restartCount = try reader.u32()
        safe = try reader.u8() != 0
        firmwareVersion = try reader.u64()
        pcrSelection = []
        switch type {
        case Self.typeCertify:
            certifiedName = Array(try reader.sized())
            _ = try reader.sized()  // qualifiedName
        case Self.typeQuote:
            let count = try reader.u32()
            guard count <= 16 else { throw TPMPublicArea.Malformed(description: "too many PCR banks") }
            for _ in 0..<count {
                let hash = try reader.u16()
                let size = Int(try reader.u8())
                guard size <= 4 else { throw TPMPublicArea.Malformed(description: "PCR bitmap over 32 PCRs") }
                let bitmap = try reader.take(size)
                var pcrs: [Int] = []
                for (byte, bits) in bitmap.enumerated() {
                    for bit in 0..<8 where bits & (1 << bit) != 0 { pcrs.append(byte * 8 + bit) }
                }
                pcrSelection.append((hash, pcrs))
            }
            pcrDigest = Array(try reader.sized())
        default:
            throw TPMPublicArea.Malformed(
                description: "attestation type 0x\(String(type, radix: 16)) is neither Certify nor Quote")
        }
        guard reader.remaining == 0 else { throw TPMPublicArea.Malformed(description: "trailing bytes") }
    }

    /// True when `signature` (r‖s, 64 bytes) is the attestation key's ECDSA over SHA-256 of these bytes.
    public func isSigned(by key: P256.Signing.PublicKey, signature: [UInt8]) -> Bool {
        guard let signature = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
        return key.isValidSignature(signature, for: bytes)
    }
}
