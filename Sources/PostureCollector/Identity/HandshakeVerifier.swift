import Logging
import NIOSSL
import PostureModel
import PostureStore
import X509

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Verifies a device's client certificate during the TLS handshake: it chains to the CA under RFC 5280
/// (validity, key usage, constraints), names a device of this trust domain, and that device is active.
/// A revoked device is refused by the handshake itself, so it never sends a byte of HTTP.
struct HandshakeVerifier: Sendable {
    let ca: Certificate
    let trustDomain: String
    let store: any PostureStore
    let logger: Logger

    func verify(_ chain: [NIOSSLCertificate]) async -> NIOSSLVerificationResult {
        guard let leafDER = try? chain.first?.toDERBytes(), let leaf = try? Certificate(derEncoded: leafDER) else {
            return .failed
        }
        let intermediates = chain.dropFirst().compactMap { try? Certificate(derEncoded: $0.toDERBytes()) }
        var verifier = Verifier(rootCertificates: CertificateStore([ca])) {
            RFC5280Policy()
        }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore(intermediates))
        guard case .validCertificate = result else {
            logger.warning(
                "handshake refused: certificate does not chain to the CA or is not current",
                metadata: ["posture.code": "certificate_invalid", "posture.subject": "\(leaf.subject)"])
            return .failed
        }
        guard let identity = try? PeerIdentities.identity(of: leaf, trustDomain: trustDomain) else {
            logger.warning("handshake refused: no device identity", metadata: ["posture.code": "certificate_required"])
            return .failed
        }
        do {
            guard try await store.isDeviceActive(identity.identity.deviceID) else {
                logger.warning(
                    "handshake refused: device revoked",
                    metadata: ["posture.code": "device_revoked", "posture.device": "\(identity.identity.deviceID)"])
                try? await store.recordSecurityEvents([
                    SecurityEvent(
                        at: Date(), deviceID: identity.identity.deviceID, code: "device_revoked",
                        message: "TLS handshake refused: the device is revoked", peer: nil)
                ])
                return .failed
            }
        } catch {
            // Deny on doubt: a store that cannot answer does not let a device in.
            logger.error("handshake refused: the store cannot say whether the device is active: \(error)")
            return .failed
        }
        return .certificateVerified
    }
}
