import Crypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Something that signs with a P-256 key: the device key today, a TPM-resident key later.
public protocol ES256Signer: Sendable {
    var publicKey: P256.Signing.PublicKey { get }
    /// The raw signature, r‖s (64 bytes), over `data` hashed with SHA-256.
    func sign(_ data: Data) throws -> P256.Signing.ECDSASignature
    /// The same, waiting off the caller's thread where signing is slow (a TPM: tens of milliseconds), for
    /// callers on an event loop (the TLS handshake).
    func signWithoutBlocking(_ data: Data) async throws -> P256.Signing.ECDSASignature
}

extension ES256Signer {
    public func signWithoutBlocking(_ data: Data) async throws -> P256.Signing.ECDSASignature { try sign(data) }
}

/// A P-256 key held in memory (the device key file, a test key).
public struct SoftwareSigningKey: ES256Signer, @unchecked Sendable {
    // @unchecked: swift-crypto's key is an immutable BoringSSL EC_KEY, which is safe to sign with from
    // several threads; the type is only missing the annotation on Linux.
    public let privateKey: P256.Signing.PrivateKey

    public init(_ privateKey: P256.Signing.PrivateKey) { self.privateKey = privateKey }

    public var publicKey: P256.Signing.PublicKey { privateKey.publicKey }

    public func sign(_ data: Data) throws -> P256.Signing.ECDSASignature {
        try privateKey.signature(for: data)
    }
}

/// A JWS in compact serialization (RFC 7515) signed with ES256. Parsing checks only the shape and the
/// header; the payload is handed out only after `verifiedPayload(with:)` checked the signature, so nothing
/// unauthenticated is parsed beyond the protected header.
public struct CompactJWS: Sendable, Equatable {
    public struct Header: Codable, Sendable, Equatable {
        public var alg: String
        public var kid: String
        public var typ: String?
        /// Present only to be refused: this reader understands no JWS extension (RFC 7515 §4.1.11).
        public var crit: [String]?

        public init(alg: String, kid: String, typ: String?) {
            self.alg = alg
            self.kid = kid
            self.typ = typ
        }
    }

    /// The media type of a Posture attestation, in the header's `typ`.
    public static let attestationType = "posture-attestation+jws"

    public let compact: String
    public let header: Header
    private let signingInput: Substring
    private let encodedPayload: Substring
    let signature: Data

    /// Signs `payload` with `signer`; `kid` is the thumbprint of the signer's public key.
    public static func sign(payload: Data, type: String = attestationType, with signer: some ES256Signer) throws
        -> CompactJWS
    {
        let input = try signingInput(payload: payload, type: type, signer: signer)
        return try CompactJWS(
            parsing: input + "." + Base64URL.encode(try signer.sign(Data(input.utf8)).rawRepresentation))
    }

    /// The same, the signature made off the caller's thread (a TPM-held key: tens of milliseconds).
    public static func signWithoutBlocking(
        payload: Data, type: String = attestationType, with signer: some ES256Signer
    ) async throws -> CompactJWS {
        let input = try signingInput(payload: payload, type: type, signer: signer)
        let signature = try await signer.signWithoutBlocking(Data(input.utf8))
        return try CompactJWS(parsing: input + "." + Base64URL.encode(signature.rawRepresentation))
    }

    private static func signingInput(payload: Data, type: String, signer: some ES256Signer) throws -> String {
        let header = Header(alg: "ES256", kid: KeyThumbprint(signer.publicKey).value, typ: type)
        return Base64URL.encode(try JSONEncoder.sortedKeys.encode(header)) + "." + Base64URL.encode(payload)
    }

    /// Parses the compact form; throws a precise refusal for anything that is not an ES256 JWS.
    public init(parsing compact: String) throws(AttestationRefusal) {
        // Byte-wise: splitting a String by Character costs more than verifying the signature.
        var dots: [String.Index] = []
        var index = compact.utf8.startIndex
        while index < compact.utf8.endIndex {
            if compact.utf8[index] == UInt8(ascii: ".") { dots.append(index) }
            index = compact.utf8.index(after: index)
        }
        guard dots.count == 2 else {
            throw AttestationRefusal(.malformedJWS, "a compact JWS has three base64url parts separated by dots")
        }
        let parts = [
            compact[compact.startIndex..<dots[0]], compact[compact.utf8.index(after: dots[0])..<dots[1]],
            compact[compact.utf8.index(after: dots[1])..<compact.endIndex],
        ]
        guard let headerBytes = Base64URL.decode(parts[0]) else {
            throw AttestationRefusal(.malformedJWS, "the JWS protected header is not base64url")
        }
        do {
            try StrictJSON.check(headerBytes)
        } catch {
            throw AttestationRefusal(.malformedJWS, "the JWS protected header is not one reading of JSON: \(error)")
        }
        guard let header = try? JSONDecoder().decode(Header.self, from: headerBytes) else {
            throw AttestationRefusal(.malformedJWS, "the JWS protected header is not base64url JSON with alg and kid")
        }
        guard header.crit == nil else {
            throw AttestationRefusal(
                .malformedJWS, "the JWS header has crit; no JWS extension is understood here (RFC 7515 §4.1.11)")
        }
        guard header.alg == "ES256" else {
            throw AttestationRefusal(.unsupportedAlgorithm, "JWS alg is \(header.alg); only ES256 is accepted")
        }
        guard let signature = Base64URL.decode(parts[2]), signature.count == 64 else {
            throw AttestationRefusal(.malformedJWS, "an ES256 signature is 64 bytes of base64url (r‖s)")
        }
        self.compact = compact
        self.header = header
        self.encodedPayload = parts[1]
        self.signature = signature
        self.signingInput = compact[compact.startIndex..<parts[1].endIndex]
    }

    /// The payload bytes, if and only if the signature verifies under `key` and `kid` names that key.
    public func verifiedPayload(with key: P256.Signing.PublicKey) throws(AttestationRefusal) -> Data {
        guard header.kid == KeyThumbprint(key).value else {
            throw AttestationRefusal(
                .keyMismatch, "JWS kid \(header.kid) is not the thumbprint of the client certificate's key")
        }
        return try payload(verifiedBy: key, named: "the device certificate's key")
    }

    /// The payload, if and only if the signature verifies under `key`, which the caller chose by `kid`
    /// from a key set it trusts (the collector's JWKS).
    public func verifiedPayload(signedBy key: P256.Signing.PublicKey) throws(AttestationRefusal) -> Data {
        try payload(verifiedBy: key, named: "the key named by kid")
    }

    private func payload(verifiedBy key: P256.Signing.PublicKey, named: String) throws(AttestationRefusal) -> Data {
        guard let ecdsa = try? P256.Signing.ECDSASignature(rawRepresentation: signature),
            key.isValidSignature(ecdsa, for: Data(signingInput.utf8))
        else {
            throw AttestationRefusal(.badSignature, "the JWS signature does not verify under \(named)")
        }
        guard let payload = Base64URL.decode(encodedPayload) else {
            throw AttestationRefusal(.malformedJWS, "the JWS payload is not base64url")
        }
        do {
            try StrictJSON.check(payload)
        } catch {
            throw AttestationRefusal(.malformedPayload, "the signed payload is not one reading of JSON: \(error)")
        }
        return payload
    }

    public static func == (a: CompactJWS, b: CompactJWS) -> Bool { a.compact == b.compact }
}

extension JSONEncoder {
    static var sortedKeys: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
