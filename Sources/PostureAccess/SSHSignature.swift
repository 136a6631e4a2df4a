// OpenSSH's detached signatures, as `ssh-keygen -Y sign` writes them (PROTOCOL.sshsig, sshsig.c): a daemon checks
// that a local user holds the private key of the key they present, without running ssh-keygen.
import Crypto
import _CryptoExtras

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A signature that can't be read or doesn't verify: `reason` names the cause and what to do instead.
public struct SSHSignatureError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public var description: String { "SSH signature: \(reason)" }
}

/// An armored SSHSIG signature. It proves only that the holder of `publicKey` signed: callers compare
/// `publicKey.blob` with the key they expect.
public struct SSHSignature: Sendable {
    /// The longest armored text accepted, so that a caller can't make us decode megabytes; RSA-16384 is under 5 KiB.
    public static let maximumArmoredLength = 16 * 1024
    /// The hash algorithms sshsig.c allows for the message; ssh-keygen uses sha512 unless told otherwise.
    public static let hashAlgorithms = ["sha256", "sha512"]

    static let header = "-----BEGIN SSH SIGNATURE-----"
    static let footer = "-----END SSH SIGNATURE-----"
    static let magic = Array("SSHSIG".utf8)
    /// The byte length of r and s, and so half of `ECDSASignature.rawRepresentation`, for each ECDSA key type.
    static let ecdsaScalarLengths = ["ecdsa-sha2-nistp256": 32, "ecdsa-sha2-nistp384": 48, "ecdsa-sha2-nistp521": 66]

    /// The key that signed, as the signature carries it.
    public let publicKey: SSHPublicKey
    /// The domain the signer meant the signature for (`-n`), so one signed for another use can't be replayed here.
    public let namespace: String
    /// How the message was hashed before signing: `sha256` or `sha512`.
    public let hashAlgorithm: String
    /// The key type's own signature encoding: string algorithm, then that algorithm's fields.
    let signature: [UInt8]

    /// Parses the armored text (bounded: refuse over 16 KiB).
    public init(armored: String) throws(SSHSignatureError) {
        guard armored.utf8.count <= Self.maximumArmoredLength else {
            throw SSHSignatureError(
                reason: "text is \(armored.utf8.count) bytes, over the \(Self.maximumArmoredLength)-byte limit: "
                    + "give one signature, as ssh-keygen -Y sign writes it")
        }
        var text = Substring(armored)
        while text.first?.isWhitespace == true { text.removeFirst() }
        while text.last?.isWhitespace == true { text.removeLast() }
        guard text.hasPrefix(Self.header) else {
            throw SSHSignatureError(
                reason: "text does not start with \(Self.header): give the .sig file ssh-keygen -Y sign wrote")
        }
        guard text.hasSuffix(Self.footer) else {
            let what = text.contains(Self.footer) ? "text follows the END line" : "there is no END line"
            throw SSHSignatureError(reason: "\(what): give the whole .sig file unchanged, and nothing after it")
        }
        let base64 = String(text.dropFirst(Self.header.count).dropLast(Self.footer.count).filter { !$0.isWhitespace })
        guard let decoded = Data(base64Encoded: base64) else {
            throw SSHSignatureError(
                reason: "the signature's base64 does not decode: it was truncated or edited; give the .sig file "
                    + "unchanged")
        }
        try self.init(blob: [UInt8](decoded))
    }

    /// Takes the decoded blob: MAGIC, uint32 version, string publickey, namespace, reserved, hash_algorithm, signature.
    init(blob: [UInt8]) throws(SSHSignatureError) {
        guard blob.starts(with: Self.magic) else {
            throw SSHSignatureError(reason: "the decoded text does not start with SSHSIG: it is not an SSH signature")
        }
        var reader = SSHWireReader(Array(blob.dropFirst(Self.magic.count)))
        let version = reader.readUInt32()
        guard version == 1 else {
            throw SSHSignatureError(
                reason: "signature version \(version.map(String.init) ?? "missing") is not 1, the one this reads: "
                    + "sign with ssh-keygen -Y sign")
        }
        // The reserved string is read and ignored, as PROTOCOL.sshsig says; sshsig.c signs it empty.
        guard let keyBlob = reader.readString(), let namespaceBytes = reader.readString(), reader.readString() != nil,
            let hashBytes = reader.readString(), let signature = reader.readString(), reader.isAtEnd
        else {
            throw SSHSignatureError(
                reason: "the signature's fields are truncated or followed by extra bytes: give the .sig file unchanged")
        }
        do {
            publicKey = try SSHPublicKey(blob: Array(keyBlob))
        } catch {
            throw SSHSignatureError(reason: "the signing key can't be used: \(error.reason)")
        }
        guard let namespace = String(validating: namespaceBytes, as: UTF8.self), !namespace.isEmpty else {
            throw SSHSignatureError(
                reason: "the signature's namespace is empty or not UTF-8: sign with ssh-keygen -Y sign -n NAMESPACE")
        }
        let hashAlgorithm = String(decoding: hashBytes, as: UTF8.self)
        guard Self.hashAlgorithms.contains(hashAlgorithm) else {
            throw SSHSignatureError(
                reason: "hash algorithm \(Self.shown(hashAlgorithm)) is not sha256 or sha512: sign with ssh-keygen "
                    + "-Y sign, which uses sha512")
        }
        self.namespace = namespace
        self.hashAlgorithm = hashAlgorithm
        self.signature = Array(signature)
    }

    /// Checks the signature over `message` for `namespace`; throws when it does not verify, the namespace differs, or
    /// the key type is not supported.
    public func verify(message: [UInt8], namespace: String) throws(SSHSignatureError) {
        // Bytes, not String ==, which would take a differently normalized namespace as equal.
        guard self.namespace.utf8.elementsEqual(namespace.utf8) else {
            throw SSHSignatureError(
                reason: "the signature is for namespace \(Self.shown(self.namespace)), not \(Self.shown(namespace)): "
                    + "sign with ssh-keygen -Y sign -n \(Self.shown(namespace))")
        }
        let digest = hashAlgorithm == "sha512" ? Array(SHA512.hash(data: message)) : Array(SHA256.hash(data: message))
        var signed = SSHWireWriter()
        signed.appendRaw(Self.magic)
        signed.appendString(namespace)
        signed.appendString([UInt8]())  // reserved
        signed.appendString(hashAlgorithm)
        signed.appendString(digest)
        guard try isValid(over: signed.bytes) else {
            throw SSHSignatureError(
                reason: "the signature does not verify: the message changed after it was signed, or the signature "
                    + "was altered; sign the message again")
        }
    }

    /// Checks `signature` over `data` with `publicKey`, by the rules of the key's type in OpenSSH's ssh-*.c.
    private func isValid(over data: [UInt8]) throws(SSHSignatureError) -> Bool {
        let type = publicKey.type
        if type.hasPrefix("sk-") {
            throw SSHSignatureError(reason: "security-key signatures are not supported; use an ed25519 or ecdsa key")
        }
        var reader = SSHWireReader(signature)
        guard let algorithmBytes = reader.readString(), let body = reader.readString(), reader.isAtEnd else {
            throw Self.malformed(type)
        }
        let algorithm = String(decoding: algorithmBytes, as: UTF8.self)
        var keyReader = SSHWireReader(publicKey.blob)
        _ = keyReader.readString()  // the type, which SSHPublicKey checked
        if type == "ssh-rsa" {
            guard algorithm == "rsa-sha2-256" || algorithm == "rsa-sha2-512" else {
                throw SSHSignatureError(
                    reason: "RSA signature algorithm \(Self.shown(algorithm)) is refused (ssh-rsa is SHA-1): sign "
                        + "with ssh-keygen -Y sign, which uses rsa-sha2-512")
            }
            guard let e = keyReader.readString().flatMap({ Self.unsigned($0) }),
                let n = keyReader.readString().flatMap({ Self.unsigned($0) }),
                let key = try? _RSA.Signing.PublicKey(n: n, e: e)
            else {
                throw SSHSignatureError(
                    reason: "the RSA key is under 2048 bits or malformed: use an RSA key of 2048 bits or more, or "
                        + "an ed25519 key")
            }
            let modulusLength = (key.keySizeInBits + 7) / 8
            guard body.count <= modulusLength else { throw Self.malformed(type) }
            let padded = _RSA.Signing.RSASignature(
                rawRepresentation: [UInt8](repeating: 0, count: modulusLength - body.count) + body)
            return algorithm == "rsa-sha2-512"
                ? key.isValidSignature(padded, for: SHA512.hash(data: data), padding: .insecurePKCS1v1_5)
                : key.isValidSignature(padded, for: SHA256.hash(data: data), padding: .insecurePKCS1v1_5)
        }
        guard algorithm == type else {
            throw SSHSignatureError(
                reason: "the signature's algorithm \(Self.shown(algorithm)) is not its key's type \(Self.shown(type)): "
                    + "the signature was altered; sign the message again")
        }
        if type == "ssh-ed25519" {
            guard let raw = keyReader.readString(), let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw),
                body.count == 64
            else { throw Self.malformed(type) }
            return key.isValidSignature(body, for: data)
        }
        guard let scalarLength = Self.ecdsaScalarLengths[type] else {
            throw SSHSignatureError(
                reason: "key type \(Self.shown(type)) is not supported: use an ed25519, ecdsa or RSA key")
        }
        var bodyReader = SSHWireReader(Array(body))
        guard keyReader.readString() != nil, let point = keyReader.readString(),
            let r = bodyReader.readString().flatMap({ Self.unsigned($0, length: scalarLength) }),
            let s = bodyReader.readString().flatMap({ Self.unsigned($0, length: scalarLength) }), bodyReader.isAtEnd
        else { throw Self.malformed(type) }
        let raw = r + s
        switch type {
        case "ecdsa-sha2-nistp256":
            guard let key = try? P256.Signing.PublicKey(x963Representation: point),
                let ecdsa = try? P256.Signing.ECDSASignature(rawRepresentation: raw)
            else { throw Self.malformed(type) }
            return key.isValidSignature(ecdsa, for: data)
        case "ecdsa-sha2-nistp384":
            guard let key = try? P384.Signing.PublicKey(x963Representation: point),
                let ecdsa = try? P384.Signing.ECDSASignature(rawRepresentation: raw)
            else { throw Self.malformed(type) }
            return key.isValidSignature(ecdsa, for: data)
        default:
            guard let key = try? P521.Signing.PublicKey(x963Representation: point),
                let ecdsa = try? P521.Signing.ECDSASignature(rawRepresentation: raw)
            else { throw Self.malformed(type) }
            return key.isValidSignature(ecdsa, for: data)
        }
    }

    /// An mpint's unsigned value, left-padded with zeros to `length` as ECDSASignature's raw form needs r and s;
    /// nil when negative, which no key or signature is, or longer than `length`.
    private static func unsigned(_ mpint: ArraySlice<UInt8>, length: Int? = nil) -> [UInt8]? {
        let value = mpint.drop(while: { $0 == 0 })
        guard (mpint.first ?? 0) & 0x80 == 0, value.count <= length ?? value.count else { return nil }
        return [UInt8](repeating: 0, count: (length ?? value.count) - value.count) + value
    }

    private static func malformed(_ type: String) -> SSHSignatureError {
        SSHSignatureError(
            reason: "the \(shown(type)) signature or key fields are malformed: the signature was altered or truncated; "
                + "give the .sig file unchanged")
    }

    /// Untrusted text for a message: at most 64 characters, quoted, with control characters escaped.
    private static func shown(_ text: String) -> String {
        String(text.prefix(64)).debugDescription
    }
}
