import Crypto
import PostureModel
import _CryptoExtras

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// TPM2_MakeCredential in software (TPM 2.0 Part 1 §24, Part 3 §12.6), for an ECC endorsement key: seals
/// `credential` so that only the TPM holding that EK, and an object of Name `objectName` in it, recovers it
/// with ActivateCredential. The hash, the symmetric key size and the curve come from the EK's public area
/// (SHA-256/AES-128/P-256 for the TCG's L-2 template, SHA-384/AES-256/P-384 for swtpm's).
enum MakeCredential {
    struct Sealed {
        /// TPM2B_ID_OBJECT contents: the integrity HMAC (sized) and the encrypted identity.
        var credentialBlob: [UInt8]
        /// TPM2B_ENCRYPTED_SECRET contents: the ephemeral point (TPMS_ECC_POINT).
        var encryptedSecret: [UInt8]
    }

    struct Unsupported: Error, CustomStringConvertible {
        var description: String
    }

    static func seal(credential: [UInt8], objectName: [UInt8], endorsementKey ek: TPMPublicArea) throws(Unsupported)
        -> Sealed
    {
        guard ek.symmetric.algorithm == TPMPublicArea.algorithmAES, ek.symmetric.mode == TPMPublicArea.algorithmCFB,
            [128, 256].contains(ek.symmetric.keyBits)
        else { throw Unsupported(description: "the EK's symmetric algorithm is not AES-CFB") }
        let (ephemeralX, ephemeralY, z): ([UInt8], [UInt8], [UInt8])
        switch ek.curve {
        case TPMPublicArea.curveP256:
            guard let point = try? P256.KeyAgreement.PublicKey(x963Representation: [4] + ek.x + ek.y) else {
                throw Unsupported(description: "the EK's point is not on P-256")
            }
            let ephemeral = P256.KeyAgreement.PrivateKey()
            let shared = try? ephemeral.sharedSecretFromKeyAgreement(with: point)
            let raw = Array(ephemeral.publicKey.x963Representation.dropFirst())
            (ephemeralX, ephemeralY) = (Array(raw.prefix(32)), Array(raw.suffix(32)))
            z = shared.map { $0.withUnsafeBytes { Array($0) } } ?? []
        case TPMPublicArea.curveP384:
            guard let point = try? P384.KeyAgreement.PublicKey(x963Representation: [4] + ek.x + ek.y) else {
                throw Unsupported(description: "the EK's point is not on P-384")
            }
            let ephemeral = P384.KeyAgreement.PrivateKey()
            let shared = try? ephemeral.sharedSecretFromKeyAgreement(with: point)
            let raw = Array(ephemeral.publicKey.x963Representation.dropFirst())
            (ephemeralX, ephemeralY) = (Array(raw.prefix(48)), Array(raw.suffix(48)))
            z = shared.map { $0.withUnsafeBytes { Array($0) } } ?? []
        default:
            throw Unsupported(description: "the EK's curve 0x\(String(ek.curve, radix: 16)) is neither P-256 nor P-384")
        }
        guard !z.isEmpty else { throw Unsupported(description: "ECDH with the EK failed") }
        switch ek.nameAlgorithm {
        case TPMPublicArea.algorithmSHA256:
            return try seal(
                SHA256.self, credential: credential, objectName: objectName, z: z, ephemeral: (ephemeralX, ephemeralY),
                ekX: ek.x, symmetricBits: Int(ek.symmetric.keyBits))
        case TPMPublicArea.algorithmSHA384:
            return try seal(
                SHA384.self, credential: credential, objectName: objectName, z: z, ephemeral: (ephemeralX, ephemeralY),
                ekX: ek.x, symmetricBits: Int(ek.symmetric.keyBits))
        default:
            throw Unsupported(description: "the EK's name algorithm is neither SHA-256 nor SHA-384")
        }
    }

    private static func seal<H: HashFunction>(
        _ hash: H.Type, credential: [UInt8], objectName: [UInt8], z: [UInt8],
        ephemeral: (x: [UInt8], y: [UInt8]), ekX: [UInt8], symmetricBits: Int
    ) throws(Unsupported) -> Sealed {
        let digestBytes = H.Digest.byteCount
        guard credential.count <= digestBytes else { throw Unsupported(description: "the credential is too long") }
        let seed = kdfe(H.self, z: z, label: "IDENTITY", partyU: ephemeral.x, partyV: ekX, bits: digestBytes * 8)
        let symmetricKey = kdfa(
            H.self, key: seed, label: "STORAGE", contextU: objectName, contextV: [], bits: symmetricBits)
        let hmacKey = kdfa(H.self, key: seed, label: "INTEGRITY", contextU: [], contextV: [], bits: digestBytes * 8)
        let plain = u16(credential.count) + credential
        let encrypted: [UInt8]
        do {
            encrypted = Array(
                try AES._CFB.encrypt(
                    plain, using: SymmetricKey(data: symmetricKey),
                    iv: try AES._CFB.IV(ivBytes: [UInt8](repeating: 0, count: 16))))
        } catch {
            throw Unsupported(description: "AES-CFB failed: \(error)")
        }
        let integrity = Array(
            HMAC<H>.authenticationCode(for: encrypted + objectName, using: SymmetricKey(data: hmacKey)))
        let point = u16(ephemeral.x.count) + ephemeral.x + u16(ephemeral.y.count) + ephemeral.y
        return Sealed(credentialBlob: u16(integrity.count) + integrity + encrypted, encryptedSecret: point)
    }

    /// KDFa (Part 1 §11.4.10.2): HMAC in counter mode.
    static func kdfa<H: HashFunction>(
        _ hash: H.Type, key: [UInt8], label: String, contextU: [UInt8], contextV: [UInt8], bits: Int
    ) -> [UInt8] {
        var out: [UInt8] = []
        var counter: UInt32 = 1
        while out.count * 8 < bits {
            let message = u32(counter) + Array(label.utf8) + [0] + contextU + contextV + u32(UInt32(bits))
            out += HMAC<H>.authenticationCode(for: message, using: SymmetricKey(data: key))
            counter += 1
        }
        return Array(out.prefix(bits / 8))
    }

    /// KDFe (Part 1 §11.4.10.3): a hash in counter mode over the ECDH secret.
    static func kdfe<H: HashFunction>(
        _ hash: H.Type, z: [UInt8], label: String, partyU: [UInt8], partyV: [UInt8], bits: Int
    ) -> [UInt8] {
        var out: [UInt8] = []
        var counter: UInt32 = 1
        while out.count * 8 < bits {
            out += H.hash(data: u32(counter) + z + Array(label.utf8) + [0] + partyU + partyV)
            counter += 1
        }
        return Array(out.prefix(bits / 8))
    }

    private static func u16(_ value: Int) -> [UInt8] { [UInt8(value >> 8 & 0xff), UInt8(value & 0xff)] }
    private static func u32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(value >> (24 - 8 * UInt32($0)) & 0xff) } }
}
