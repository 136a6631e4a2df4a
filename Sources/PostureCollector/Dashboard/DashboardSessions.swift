import Crypto
import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Signed-in dashboard users: a random session ID (the cookie) → the credential they signed in with
/// (its stored hash, re-authorized on every request, so revoking the token ends the session) and a
/// CSRF token that every form must send back. In memory: a restart signs everyone out.
actor DashboardSessions {
    struct Session: Sendable {
        var credentialHash: String
        var name: String
        var csrf: String
        var created: Date
        var lastUsed: Date
    }

    /// Signed out after 8 hours, or 30 minutes without a request.
    static let lifetime: TimeInterval = 8 * 3600
    static let idle: TimeInterval = 30 * 60
    /// At most this many sessions per credential (the oldest ends) and in all: a leaked read-only token
    /// signing in in a loop cannot grow the collector's memory.
    static let perCredential = 10
    static let total = 10_000
    /// `__Host-`: only this origin, Secure, Path=/ — a sibling domain cannot plant one.
    static let cookie = "__Host-posture_session"
    private var sessions: [String: Session] = [:]

    func create(credentialHash: String, name: String, replacing previous: String?, now: Date = Date())
        -> (id: String, session: Session)
    {
        if let previous { sessions[previous] = nil }
        sessions = sessions.filter { Self.isLive($0.value, now: now) }
        let mine = sessions.filter { $0.value.credentialHash == credentialHash }.sorted {
            $0.value.created < $1.value.created
        }
        for (id, _) in mine.prefix(max(mine.count - Self.perCredential + 1, 0)) { sessions[id] = nil }
        if sessions.count >= Self.total, let oldest = sessions.min(by: { $0.value.lastUsed < $1.value.lastUsed }) {
            sessions[oldest.key] = nil
        }
        let session = Session(
            credentialHash: credentialHash, name: name, csrf: Self.random(), created: now, lastUsed: now)
        let id = Self.random()
        sessions[id] = session
        return (id, session)
    }

    func session(_ id: String, now: Date = Date()) -> Session? {
        guard var session = sessions[id], Self.isLive(session, now: now) else {
            sessions[id] = nil
            return nil
        }
        session.lastUsed = now
        sessions[id] = session
        return session
    }

    func end(_ id: String) { sessions[id] = nil }

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
