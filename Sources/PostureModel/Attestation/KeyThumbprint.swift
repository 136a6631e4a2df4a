import Crypto
import SwiftASN1
import X509

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The SHA-256 of a public key's SubjectPublicKeyInfo DER, base64url: the JWS `kid` of a device key.
public struct KeyThumbprint: Sendable, Hashable, CustomStringConvertible {
    public let value: String

    public init(_ key: P256.Signing.PublicKey) {
        value = Base64URL.encode(SHA256.hash(data: key.derRepresentation))
    }

    public init(_ key: Certificate.PublicKey) throws {
        value = Base64URL.encode(SHA256.hash(data: try key.spkiDER()))
    }

    public var description: String { value }
}

/// `sha256:<hex>` of a CA certificate's SubjectPublicKeyInfo DER: the same value as kubeadm's discovery
/// hash and as `openssl x509 -pubkey -noout -in ca.crt | openssl pkey -pubin -outform der | sha256sum`.
public struct CAFingerprint: Sendable, Hashable, CustomStringConvertible {
    public let hex: String

    public init(_ certificate: Certificate) throws {
        hex = Hex.encode(SHA256.hash(data: try certificate.publicKey.spkiDER()))
    }

    /// Parses `sha256:<64 hex digits>`; nil otherwise.
    public init?(parsing text: String) {
        let lower = text.lowercased()
        guard lower.hasPrefix("sha256:") else { return nil }
        let hex = String(lower.dropFirst(7))
        guard hex.count == 64, hex.allSatisfy({ $0.isHexDigit }) else { return nil }
        self.hex = hex
    }

    public var description: String { "sha256:" + hex }
}

extension Certificate.PublicKey {
    /// The SubjectPublicKeyInfo DER (not `subjectPublicKeyInfoBytes`, which is only the key bits).
    public func spkiDER() throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(self)
        return serializer.serializedBytes
    }
}
