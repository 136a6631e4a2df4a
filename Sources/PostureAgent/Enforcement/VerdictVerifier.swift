import Crypto
import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A verdict the agent may act on: signed by a key of the collector's JWKS pinned at enrollment, about
/// this device, not expired, and not older than the last one acted on.
public struct VerifiedVerdict: Sendable, Equatable {
    public var status: ComplianceStatus
    public var failingRules: [String]
    public var quarantine: String?
    public var issuedAt: Date
    public var expiresAt: Date
    public var version: String
    /// The collector's count of this device's verdict changes (nil from collectors before it existed).
    public var revision: UInt64?
    public var deviceID: String?

    /// What a later verdict must not be older than.
    public func mark(now: Date, leeway: TimeInterval) -> VerdictMark {
        VerdictMark(revision: revision, issuedAt: min(issuedAt, now.addingTimeInterval(leeway)), deviceID: deviceID)
    }
}

/// Why the agent does not act on a verdict it was given. Its own reasons: the collector's refusal codes say
/// why the collector refused this device, and a journal reader must not mistake one for the other.
public struct VerdictRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: String, Sendable {
        /// `verdict-keys.json` is unreadable or holds no key.
        case keySetInvalid = "key_set_invalid"
        /// Not typed as a verdict, or for another audience (a SET, an ID token).
        case notAVerdict = "not_a_verdict"
        /// Signed by a key the agent does not hold (yet: it fetches the collector's after a rotation).
        case unknownKey = "unknown_key"
        case badSignature = "bad_signature"
        case malformed
        /// About another device.
        case otherDevice = "other_device"
        case expired
        /// Older than the verdict already acted on.
        case replayed
    }

    public var reason: Reason
    public var message: String

    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { "\(reason.rawValue): \(message)" }
}

public struct VerdictVerifier: Sendable {
    struct KeySet: Decodable {
        struct Key: Decodable {
            var kty: String
            var crv: String?
            var x: String?
            var y: String?
            var kid: String?
        }
        var keys: [Key]
    }

    let keys: [String: Data]
    let deviceID: String
    /// Clock difference tolerated between collector and device.
    let leeway: TimeInterval

    /// `jwks` as the collector gave it at enrollment (`verdict-keys.json`).
    public init(jwks: String, deviceID: String, leeway: TimeInterval = 60) throws(VerdictRejection) {
        guard let set = try? JSONDecoder().decode(KeySet.self, from: Data(jwks.utf8)) else {
            throw VerdictRejection(.keySetInvalid, "verdict-keys.json is not a JWKS; enroll again")
        }
        var keys: [String: Data] = [:]
        for key in set.keys where key.kty == "EC" && key.crv == "P-256" {
            guard let kid = key.kid, let x = key.x.flatMap(Base64URL.decode), let y = key.y.flatMap(Base64URL.decode)
            else { continue }
            keys[kid] = x + y
        }
        guard !keys.isEmpty else {
            throw VerdictRejection(.keySetInvalid, "verdict-keys.json holds no P-256 key; enroll again")
        }
        self.keys = keys
        self.deviceID = deviceID
        self.leeway = leeway
    }

    public func verify(_ jwt: String, now: Date, notBefore last: VerdictMark?) throws(VerdictRejection)
        -> VerifiedVerdict
    {
        let jws: CompactJWS
        do {
            jws = try CompactJWS(parsing: jwt)
        } catch {
            throw VerdictRejection(.malformed, error.message)
        }
        guard jws.header.typ == VerdictClaims.type else {
            throw VerdictRejection(
                .notAVerdict,
                "the token is typed \(jws.header.typ ?? "(none)"), not \(VerdictClaims.type); it is not a verdict (upgrade the collector before its agents)"
            )
        }
        guard let raw = keys[jws.header.kid], let key = try? P256.Signing.PublicKey(rawRepresentation: raw) else {
            throw VerdictRejection(
                .unknownKey, "the verdict is signed with key \(jws.header.kid), not one of the collector's pinned keys"
            )
        }
        let payload: Data
        do {
            payload = try jws.verifiedPayload(signedBy: key)
        } catch {
            throw VerdictRejection(error.code == .badSignature ? .badSignature : .malformed, error.message)
        }
        guard let claims = try? JSONDecoder().decode(VerdictClaims.self, from: payload),
            let status = ComplianceStatus(rawValue: claims.status)
        else { throw VerdictRejection(.malformed, "the verdict's claims are not a Posture verdict") }
        guard claims.aud == VerdictClaims.audience else {
            throw VerdictRejection(
                .notAVerdict, "the token's audience is \(claims.aud ?? "(none)"), not \(VerdictClaims.audience)")
        }
        guard claims.sub == deviceID else {
            throw VerdictRejection(.otherDevice, "the verdict is about device \(claims.sub), not this one")
        }
        let expires = Date(timeIntervalSince1970: TimeInterval(claims.exp))
        guard now.timeIntervalSince(expires) < leeway else {
            throw VerdictRejection(.expired, "the verdict expired at \(expires)")
        }
        let issued = Date(timeIntervalSince1970: TimeInterval(claims.iat))
        if let last {
            let newerRevision = claims.verdictRevision.map { revision in last.revision.map { revision >= $0 } ?? true }
            // Issue times are whole seconds: with a revision, only a later second counts (a verdict captured
            // in the same second as the newest is not newer); without one (an older collector), the same second does.
            let later = claims.verdictRevision == nil ? issued >= last.issuedAt : issued > last.issuedAt
            let newerTime = later && issued.timeIntervalSince(now) <= leeway
            guard newerRevision == true || newerTime else {
                throw VerdictRejection(
                    .replayed,
                    "the verdict (revision \(claims.verdictRevision.map(String.init) ?? "none"), issued \(issued)) is older than the one acted on (revision \(last.revision.map(String.init) ?? "none"), issued \(last.issuedAt))"
                )
            }
        }
        return VerifiedVerdict(
            status: status, failingRules: claims.failingRules ?? [], quarantine: claims.quarantine, issuedAt: issued,
            expiresAt: expires, version: claims.verdictVersion ?? "", revision: claims.verdictRevision,
            deviceID: claims.sub)
    }
}
