import Crypto
import PostureModel
import PostureStore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Signed-in dashboard users: a random session ID (the cookie) → the credential they signed in with
/// (its stored hash, re-authorized on every request, so revoking the token ends the session) and a
/// CSRF token that every form must send back. Kept in the store (by the cookie's SHA-256), so a session
/// outlives a restart and any collector sharing the store serves it.
struct DashboardSessions: Sendable {
    typealias Session = SessionRecord

    let store: any SessionStore

    /// Signed out after 8 hours, or 30 minutes without a request.
    static let lifetime: TimeInterval = 8 * 3600
    static let idle: TimeInterval = 30 * 60
    /// At most this many sessions per credential (the oldest ends) and in all: a leaked read-only token
    /// signing in in a loop cannot grow the store.
    static let perCredential = 10
    static let total = 10_000
    static let limits = SessionLimits(lifetime: lifetime, idle: idle, perCredential: perCredential, total: total)
    /// `__Host-`: only this origin, Secure, Path=/ — a sibling domain cannot plant one.
    static let cookie = "__Host-posture_session"

    func create(credentialHash: String, name: String, replacing previous: String?, now: Date = Date()) async throws
        -> (id: String, session: Session)
    {
        let id = Self.random()
        let session = Session(
            idHash: Self.hash(id), credentialHash: credentialHash, name: name, csrf: Self.random(), created: now,
            lastUsed: now)
        try await store.createSession(session, replacing: previous.map(Self.hash), limits: Self.limits)
        return (id, session)
    }

    func session(_ id: String, now: Date = Date()) async throws -> Session? {
        try await store.session(idHash: Self.hash(id), now: now, limits: Self.limits)
    }

    func end(_ id: String) async { try? await store.endSession(idHash: Self.hash(id)) }

    static func hash(_ id: String) -> String { sha256Hex(Array(id.utf8)) }

    static func isLive(_ session: Session, now: Date) -> Bool {
        now.timeIntervalSince(session.created) < lifetime && now.timeIntervalSince(session.lastUsed) < idle
    }

    /// 32 random bytes, base64url.
    static func random() -> String {
        Base64URL.encode(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
    }

    /// Compares without an early exit, so timing does not reveal how much of a guess was right.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
