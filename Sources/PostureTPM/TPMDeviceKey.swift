import Crypto
import PostureModel
import SwiftASN1
import X509

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The device key inside a TPM: signs attestations (JWS), the enrollment and renewal requests, and, through
/// PostureClient's handshake key, the mutual-TLS CertificateVerify. Nothing of it can be copied off the TPM.
public struct TPMDeviceKey: ES256Signer, Hashable {
    public let tpm: TPM
    public let blob: TPMKeyBlob

    /// Loads `blob` into `tpm`.
    public init(tpm: TPM, blob: TPMKeyBlob) throws(TPMError) {
        try tpm.load(blob)
        self.tpm = tpm
        self.blob = blob
    }

    public var publicKey: P256.Signing.PublicKey { blob.publicKey }

    public func sign(_ data: Data) throws -> P256.Signing.ECDSASignature {
        try tpm.sign(digest: SHA256.hash(data: data))
    }

    public func signWithoutBlocking(_ data: Data) async throws -> P256.Signing.ECDSASignature {
        try await tpm.signWithoutBlocking(digest: SHA256.hash(data: data))
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.blob == rhs.blob }
    public func hash(into hasher: inout Hasher) { hasher.combine(blob) }
}

/// The device key as swift-certificates signs with it: a CSR for enrollment and renewal
/// (`Certificate.PrivateKey(TPMCertificateKey(key))`).
public struct TPMCertificateKey: CustomPrivateKey {
    public let key: TPMDeviceKey
    public init(_ key: TPMDeviceKey) { self.key = key }

    public static let defaultPEMDiscriminator = TPMKeyBlob.defaultPEMDiscriminator
    public func serialize(into coder: inout DER.Serializer) throws { try key.blob.serialize(into: &coder) }

    public var publicKey: Certificate.PublicKey { Certificate.PublicKey(key.publicKey) }
    public var defaultSignatureAlgorithm: Certificate.SignatureAlgorithm { .ecdsaWithSHA256 }
    public var supportedSignatureAlgorithms: [Certificate.SignatureAlgorithm] { [.ecdsaWithSHA256] }

    public func signSynchronously(bytes: some DataProtocol, signatureAlgorithm: Certificate.SignatureAlgorithm)
        throws -> Certificate.Signature
    {
        guard signatureAlgorithm == .ecdsaWithSHA256 else {
            throw TPMError("the TPM device key signs only ecdsa-with-SHA256, not \(signatureAlgorithm)")
        }
        let signature = try key.sign(Data(bytes))
        return try Certificate.Signature(
            signatureAlgorithm: .ecdsaWithSHA256,
            signatureBytes: ASN1BitString(bytes: Array(signature.derRepresentation)[...]))
    }
}
