import Crypto
import NIOCore
import NIOSSL
import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The mutual-TLS CertificateVerify signed by an `ES256Signer` (a TPM-resident device key) rather than by a
/// key BoringSSL holds. BoringSSL hands over the unhashed message and waits for a DER ECDSA signature; the
/// signer works off the event loop and the handshake resumes when it answers.
struct HandshakeKey: NIOSSLCustomPrivateKey, Hashable {
    let signer: any ES256Signer
    private let publicKey: [UInt8]

    init(_ signer: some ES256Signer) {
        self.signer = signer
        publicKey = Array(signer.publicKey.x963Representation)
    }

    var signatureAlgorithms: [SignatureAlgorithm] { [.ecdsaSecp256R1Sha256] }

    func sign(channel: Channel, algorithm: SignatureAlgorithm, data: ByteBuffer) -> EventLoopFuture<ByteBuffer> {
        let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
        guard algorithm == .ecdsaSecp256R1Sha256 else {
            promise.fail(HandshakeKeyError(description: "the device key signs only ecdsa_secp256r1_sha256"))
            return promise.futureResult
        }
        let message = Data(data.readableBytesView)
        let signer = self.signer
        promise.completeWithTask {
            ByteBuffer(bytes: try await signer.signWithoutBlocking(message).derRepresentation)
        }
        return promise.futureResult
    }

    func decrypt(channel: Channel, data: ByteBuffer) -> EventLoopFuture<ByteBuffer> {
        channel.eventLoop.makeFailedFuture(HandshakeKeyError(description: "an ECDSA device key does not decrypt"))
    }

    static func == (lhs: Self, rhs: Self) -> Bool { lhs.publicKey == rhs.publicKey }
    func hash(into hasher: inout Hasher) { hasher.combine(publicKey) }
}

struct HandshakeKeyError: Error, CustomStringConvertible {
    var description: String
}

/// What the device presents in the handshake: its certificate and the key that signs for it.
public struct ClientCertificate: Sendable {
    public var certificatePEM: String
    let key: NIOSSLPrivateKey

    /// A key held in memory (PEM): the software device key, a benchmark's keys.
    public init(certificatePEM: String, keyPEM: String) throws {
        self.certificatePEM = certificatePEM
        key = try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)
    }

    /// A key that signs elsewhere (a TPM).
    public init(certificatePEM: String, signer: some ES256Signer) {
        self.certificatePEM = certificatePEM
        key = NIOSSLPrivateKey(customPrivateKey: HandshakeKey(signer))
    }
}
