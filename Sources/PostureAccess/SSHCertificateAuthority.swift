import Crypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An Ed25519 key that signs OpenSSH user certificates; sshd trusts it through `TrustedUserCAKeys`.
public struct SSHCertificateAuthority: Sendable {
    private let signingKey: Curve25519.Signing.PrivateKey

    /// A new CA with a fresh random key.
    public init() {
        signingKey = Curve25519.Signing.PrivateKey()
    }

    /// The CA whose 32-byte Ed25519 seed this is, as `rawRepresentation` gave it when it was stored.
    public init(rawRepresentation: [UInt8]) throws(SSHKeyError) {
        guard rawRepresentation.count == 32,
            let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: rawRepresentation)
        else {
            throw SSHKeyError(
                reason: "an Ed25519 CA key is a 32-byte seed, got \(rawRepresentation.count) bytes: "
                    + "give the bytes that rawRepresentation returned")
        }
        signingKey = key
    }

    /// The private seed, to store the CA (secretly) and load it again with `init(rawRepresentation:)`.
    public var rawRepresentation: [UInt8] { [UInt8](signingKey.rawRepresentation) }

    /// The CA's public key in SSH wire form: a certificate's signature key, and a KRL section's `ca_key`.
    public var publicKeyBlob: [UInt8] {
        var writer = SSHWireWriter()
        writer.appendString("ssh-ed25519")
        writer.appendString([UInt8](signingKey.publicKey.rawRepresentation))
        return writer.bytes
    }

    /// `SHA256:...` of the public key, as `ssh-keygen -L` prints it after "Signing CA".
    public var fingerprint: String { SSHPublicKey.fingerprint(ofBlob: publicKeyBlob) }

    /// The CA's public key as an authorized_keys line, the format a `TrustedUserCAKeys` file takes.
    public func publicKeyLine(comment: String = "") -> String {
        let base64 = Data(publicKeyBlob).base64EncodedString()
        return comment.isEmpty ? "ssh-ed25519 \(base64)" : "ssh-ed25519 \(base64) \(comment)"
    }

    /// Signs a user certificate for `key`, valid for `principals` from `validAfter` until before `validBefore`.
    /// Serial 0 is refused: it means "unnumbered" and a KRL can't revoke it by serial.
    public func issueUserCertificate(
        for key: SSHPublicKey, serial: UInt64, keyID: String, principals: [String], validAfter: UInt64,
        validBefore: UInt64, extensions: [String] = SSHCertificate.defaultUserExtensions,
        criticalOptions: [String: String] = [:]
    ) throws(SSHCertificateError) -> SSHCertificate {
        guard serial != 0 else {
            throw SSHCertificateError(
                reason: "serial 0 means unnumbered and no KRL can revoke it by serial: give serials from 1")
        }
        try SSHCertificate.checkText(keyID, field: "key ID")
        guard !principals.isEmpty else {
            throw SSHCertificateError(
                reason: "no principals: a certificate without them is valid for any user wherever a CA is "
                    + "trusted without a principals list; give the user names it may log in as")
        }
        for principal in principals {
            try SSHCertificate.checkText(principal, field: "principal '\(principal.prefix(64))'")
        }
        guard validAfter < validBefore else {
            throw SSHCertificateError(
                reason: "validAfter \(validAfter) is not before validBefore \(validBefore): the certificate "
                    + "would never be valid; give a validBefore later than validAfter")
        }
        guard Set(extensions).count == extensions.count else {
            throw SSHCertificateError(reason: "an extension is listed twice: list each extension once")
        }
        for name in extensions { try SSHCertificate.checkText(name, field: "extension name") }
        for (name, value) in criticalOptions {
            try SSHCertificate.checkText(name, field: "critical option name")
            if !value.isEmpty { try SSHCertificate.checkText(value, field: "critical option '\(name.prefix(64))'") }
        }

        // The user key's fields after its type string are copied verbatim: the certificate layout for every
        // key type is "type, nonce, the key's own fields, then the certificate fields".
        var keyFields = SSHWireReader(key.blob)
        _ = keyFields.readString()
        var writer = SSHWireWriter()
        let typeName = SSHCertificate.typeName(forKeyType: key.type)
        writer.appendString(typeName)
        writer.appendString(Self.randomNonce())
        writer.appendRaw(keyFields.remaining)
        writer.appendUInt64(serial)
        writer.appendUInt32(1)  // SSH_CERT_TYPE_USER
        writer.appendString(keyID)
        var packedPrincipals = SSHWireWriter()
        for principal in principals { packedPrincipals.appendString(principal) }
        writer.appendString(packedPrincipals.bytes)
        writer.appendUInt64(validAfter)
        writer.appendUInt64(validBefore)
        writer.appendString(SSHCertificate.encodeOptions(criticalOptions.map { (name: $0.key, value: $0.value) }))
        writer.appendString(SSHCertificate.encodeOptions(extensions.map { (name: $0, value: "") }))
        writer.appendString([UInt8]())  // reserved
        writer.appendString(publicKeyBlob)

        guard let signature = try? signingKey.signature(for: writer.bytes) else {
            throw SSHCertificateError(reason: "Ed25519 signing failed: the CA key is unusable; load it again")
        }
        var signatureBlob = SSHWireWriter()
        signatureBlob.appendString("ssh-ed25519")
        signatureBlob.appendString([UInt8](signature))
        writer.appendString(signatureBlob.bytes)

        return SSHCertificate(
            blob: writer.bytes, typeName: typeName, serial: serial, keyID: keyID, principals: principals,
            validAfter: validAfter, validBefore: validBefore,
            extensions: extensions.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }),
            criticalOptions: criticalOptions)
    }

    /// 32 bytes from the system's CSPRNG, so that no two certificates sign the same bytes.
    private static func randomNonce() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}
