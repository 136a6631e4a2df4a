import Crypto
import PostureModel
import _CryptoExtras

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The collector's token-signing keys: ES256 for verdicts (and SETs on request), RS256 for Security Event
/// Tokens (the SSF interoperability profile's algorithm). Created on first start in the state directory,
/// mode 0600, and published as a JWKS; `kid` is the RFC 7638 thumbprint.
// @unchecked: swift-crypto's keys are immutable BoringSSL keys, safe to sign with from several threads;
// the types only lack the annotation on Linux.
public struct SigningKeys: @unchecked Sendable {
    let es256: P256.Signing.PrivateKey
    let rs256: _RSA.Signing.PrivateKey
    public let es256KeyID: String
    public let rs256KeyID: String
    /// `{"keys": [...]}`, served at `/.well-known/jwks.json`.
    public let jwks: String

    public static func loadOrCreate(stateDirectory: String) throws -> SigningKeys {
        let esPath = stateDirectory + "/verdict-es256.key"
        let rsPath = stateDirectory + "/set-rs256.key"
        let es256: P256.Signing.PrivateKey
        let rs256: _RSA.Signing.PrivateKey
        do {
            if let pem = try? String(contentsOfFile: esPath, encoding: .utf8) {
                es256 = try P256.Signing.PrivateKey(pemRepresentation: pem)
            } else {
                es256 = P256.Signing.PrivateKey()
                try StateDirectory.write(es256.pemRepresentation, to: esPath, mode: 0o600)
            }
            if let pem = try? String(contentsOfFile: rsPath, encoding: .utf8) {
                rs256 = try _RSA.Signing.PrivateKey(pemRepresentation: pem)
            } else {
                rs256 = try _RSA.Signing.PrivateKey(keySize: .bits2048)
                try StateDirectory.write(rs256.pemRepresentation, to: rsPath, mode: 0o600)
            }
        } catch let error as CollectorError {
            throw error
        } catch {
            throw CollectorError(
                .pki,
                "cannot load the token-signing keys \(esPath) / \(rsPath): \(error); move them aside to create new ones (verifiers must then fetch the new JWKS)"
            )
        }
        return try SigningKeys(es256: es256, rs256: rs256)
    }

    init(es256: P256.Signing.PrivateKey, rs256: _RSA.Signing.PrivateKey) throws {
        self.es256 = es256
        self.rs256 = rs256
        let raw = es256.publicKey.rawRepresentation
        let x = Base64URL.encode(raw.prefix(32))
        let y = Base64URL.encode(raw.suffix(32))
        // RFC 7638: the required members, lexicographic order, no whitespace.
        es256KeyID = Base64URL.encode(
            SHA256.hash(data: Data(#"{"crv":"P-256","kty":"EC","x":"\#(x)","y":"\#(y)"}"#.utf8)))
        let primitives = try rs256.publicKey.getKeyPrimitives()
        let n = Base64URL.encode(primitives.modulus)
        let e = Base64URL.encode(primitives.publicExponent)
        rs256KeyID = Base64URL.encode(SHA256.hash(data: Data(#"{"e":"\#(e)","kty":"RSA","n":"\#(n)"}"#.utf8)))
        jwks = """
            {"keys":[{"kty":"EC","crv":"P-256","x":"\(x)","y":"\(y)","kid":"\(es256KeyID)","alg":"ES256","use":"sig"},\
            {"kty":"RSA","n":"\(n)","e":"\(e)","kid":"\(rs256KeyID)","alg":"RS256","use":"sig"}]}
            """
    }

    /// A compact JWS of `claims` (JSON object bytes) with `alg` ES256 or RS256.
    public func sign(claims: Data, type: String, algorithm: String = "ES256") throws -> String {
        let kid = algorithm == "RS256" ? rs256KeyID : es256KeyID
        let header = #"{"alg":"\#(algorithm)","kid":"\#(kid)","typ":"\#(type)"}"#
        let input = Base64URL.encode(Data(header.utf8)) + "." + Base64URL.encode(claims)
        let signature: Data
        if algorithm == "RS256" {
            signature = try rs256.signature(for: Data(input.utf8), padding: .insecurePKCS1v1_5).rawRepresentation
        } else {
            signature = try es256.signature(for: Data(input.utf8)).rawRepresentation
        }
        return input + "." + Base64URL.encode(signature)
    }
}
