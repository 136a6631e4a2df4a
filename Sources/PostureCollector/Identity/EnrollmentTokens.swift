import Crypto
import PostureModel
import PostureStore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Enrollment tokens: `pt_` and 32 random bytes, base64url. Only the SHA-256 is stored.
public enum EnrollmentTokens {
    public struct Created: Sendable {
        public var token: String
        public var record: TokenRecord
    }

    public static func create(reusable: Bool, allowReenroll: Bool, ttl: Duration, labels: [String: String], now: Date)
        -> Created
    {
        let secret = "pt_" + Base64URL.encode(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
        let record = TokenRecord(
            id: UUID().uuidString.lowercased(), hash: hash(secret), reusable: reusable, allowReenroll: allowReenroll,
            labels: labels, createdAt: now, expiresAt: now.addingTimeInterval(seconds(ttl)))
        return Created(token: secret, record: record)
    }

    public static func hash(_ token: String) -> String {
        // Asked on every API request: no String(format:) here.
        Hex.encode(SHA256.hash(data: Data(token.utf8)))
    }
}

/// Single-use nonces: 32 random bytes, base64url.
enum NonceFactory {
    static func make(now: Date, lifetime: Duration) -> IssuedNonce {
        IssuedNonce(
            // 128 random bits: unguessable, and every signed envelope carries it (22 characters, not 43).
            value: Base64URL.encode(SymmetricKey(size: .bits128).withUnsafeBytes { Array($0) }), issuedAt: now,
            expiresAt: now.addingTimeInterval(seconds(lifetime)))
    }
}

/// API tokens: `pat_` and 32 random bytes, base64url, with scopes. Only the SHA-256 is stored.
public enum APITokens {
    /// What an API credential may do; `admin` is every scope.
    public static let scopes = ["verdict:read", "ssf:manage", "metrics:read", "fleet:read", "fleet:write", "admin"]

    public static func create(name: String, scopes: [String], ttl: Duration?, now: Date) -> (String, APITokenRecord) {
        let secret = "pat_" + Base64URL.encode(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
        let record = APITokenRecord(
            id: UUID().uuidString.lowercased(), hash: EnrollmentTokens.hash(secret), name: name, scopes: scopes,
            createdAt: now, expiresAt: ttl.map { now.addingTimeInterval(seconds($0)) })
        return (secret, record)
    }

    /// A credential's name, trimmed: 1 to 100 characters (the API and the CLI apply the same rule).
    public static func validName(_ name: String?) throws(AttestationRefusal) -> String {
        guard let name = name?.trimmingWhitespace(), !name.isEmpty, name.unicodeScalars.count <= 100 else {
            throw AttestationRefusal(.malformedRequest, "name: who or what uses the credential, 1 to 100 characters")
        }
        return name
    }

    /// An API client certificate's record: its scopes, stored under this hash instead of a token's.
    public static func certificateHash(clientID: String) -> String { "client-certificate:" + clientID }
}
