#if DEBUG
    import Foundation
    import PostureAgent
    import PostureModel

    /// The agent's check of a verdict JWT before it acts on it (enforcement). Input: the JWT, optionally
    /// followed by a NUL byte and a JWKS that replaces the pinned one (verdict-keys.json).
    enum VerdictJWTTarget {
        static let pinned: VerdictVerifier = {
            do {
                return try VerdictVerifier(jwks: Fixtures.verdictJWKS, deviceID: Fixtures.deviceID)
            } catch {
                fatalError("the fixed JWKS is refused: \(error)")
            }
        }()

        static func run(_ input: [UInt8]) -> String {
            let parts = input.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false)
            let jwt = String(decoding: parts.first ?? [], as: UTF8.self)
            var verifier = pinned
            if parts.count == 2 {
                do {
                    verifier = try VerdictVerifier(
                        jwks: String(decoding: parts[1], as: UTF8.self), deviceID: Fixtures.deviceID)
                } catch {
                    return "JWKS refused: \(error.reason.rawValue)"
                }
            }
            _ = try? verifier.verify(
                jwt, now: Fixtures.now,
                notBefore: VerdictMark(revision: 3, issuedAt: Fixtures.now.addingTimeInterval(-60)))
            do {
                let verdict = try verifier.verify(jwt, now: Fixtures.now, notBefore: nil)
                return "accepted: \(verdict.status.rawValue)"
            } catch {
                return "refused: \(error.reason.rawValue)"
            }
        }
    }
#endif
