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
        var expires: Date
    }

    static let lifetime: TimeInterval = 8 * 3600
    static let cookie = "posture_session"
    private var sessions: [String: Session] = [:]

    func create(credentialHash: String, name: String, now: Date = Date()) -> (id: String, session: Session) {
        sessions = sessions.filter { $0.value.expires > now }
        let session = Session(
            credentialHash: credentialHash, name: name, csrf: Self.random(), expires: now + Self.lifetime)
        let id = Self.random()
        sessions[id] = session
        return (id, session)
    }

    func session(_ id: String, now: Date = Date()) -> Session? {
        guard let session = sessions[id], session.expires > now else { return nil }
        return session
    }

    func end(_ id: String) { sessions[id] = nil }

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
