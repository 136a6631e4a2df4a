import Crypto
import Foundation
import PostureAgent
import PostureModel
import Testing

/// The agent acts only on verdicts signed by a pinned collector key, about itself, unexpired and not older
/// than the last one acted on.
@Suite struct VerdictVerifierTests {
    let collectorKey = SoftwareSigningKey(P256.Signing.PrivateKey())
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    var jwks: String {
        let raw = collectorKey.publicKey.rawRepresentation
        let kid = KeyThumbprint(collectorKey.publicKey).value
        return
            #"{"keys":[{"kty":"EC","crv":"P-256","x":"\#(Base64URL.encode(raw.prefix(32)))","y":"\#(Base64URL.encode(raw.suffix(32)))","kid":"\#(kid)"}]}"#
    }

    func token(
        sub: String = "device-1", iat: Date? = nil, exp: Date? = nil, status: String = "noncompliant",
        key: SoftwareSigningKey? = nil, type: String = VerdictClaims.type, aud: String = VerdictClaims.audience,
        revision: UInt64? = nil
    ) throws -> String {
        let revisionClaim = revision.map { #","verdict_revision":\#($0)"# } ?? ""
        let claims = """
            {"aud":"\(aud)","sub":"\(sub)","iat":\(Int((iat ?? now).timeIntervalSince1970)),"exp":\(Int((exp ?? now.addingTimeInterval(300)).timeIntervalSince1970)),\
            "status":"\(status)","failing_rules":["root-encrypted"],"quarantine":"stolen","verdict_version":"v1"\(revisionClaim)}
            """
        return try CompactJWS.sign(payload: Data(claims.utf8), type: type, with: key ?? collectorKey).compact
    }

    @Test func aGenuineVerdictIsAccepted() throws {
        let verifier = try VerdictVerifier(jwks: jwks, deviceID: "device-1")
        let verdict = try verifier.verify(try token(), now: now, notBefore: nil)
        #expect(verdict.status == .noncompliant)
        #expect(verdict.failingRules == ["root-encrypted"])
        #expect(verdict.quarantine == "stolen")
    }

    @Test func forgedReplayedExpiredAndMisaddressedVerdictsAreRefused() throws {
        let verifier = try VerdictVerifier(jwks: jwks, deviceID: "device-1")
        func code(_ jwt: String, notBefore: Date? = nil) -> VerdictRejection.Reason? {
            let notBefore = notBefore.map { VerdictMark(revision: nil, issuedAt: $0) }
            do {
                _ = try verifier.verify(jwt, now: now, notBefore: notBefore)
                return nil
            } catch {
                return error.reason
            }
        }
        // Signed by another key (not in the pinned JWKS).
        #expect(code(try token(key: SoftwareSigningKey(P256.Signing.PrivateKey()))) == .unknownKey)
        // The right kid, a payload changed after signing.
        let parts = try token().split(separator: ".")
        let altered = Base64URL.encode(
            Data(#"{"sub":"device-1","iat":1800000000,"exp":1800000300,"status":"compliant"}"#.utf8))
        #expect(code("\(parts[0]).\(altered).\(parts[2])") == .badSignature)
        // About another device.
        #expect(code(try token(sub: "device-2")) == .otherDevice)
        // Expired (beyond a minute of clock leeway).
        #expect(code(try token(exp: now.addingTimeInterval(-61))) != nil)
        #expect(code(try token(exp: now.addingTimeInterval(-30))) == nil)
        // Older than the verdict already acted on: a replay.
        #expect(code(try token(iat: now.addingTimeInterval(-10)), notBefore: now) == .replayed)
        #expect(code(try token(iat: now), notBefore: now) == nil)
        // Signed by the collector, but not typed as a verdict or for another audience (a SET, say).
        #expect(code(try token(type: "secevent+jwt")) == .notAVerdict)
        #expect(code(try token(type: "JWT")) == .notAVerdict)
        #expect(code(try token(aud: "https://receiver.example")) == .notAVerdict)
        // Not a JWS at all.
        #expect(code("not.a.jwt") != nil)
    }

    /// A collector whose clock ran an hour ahead, then was corrected: its later verdicts carry earlier issue
    /// times but higher revisions. They are acted on; an older revision is a replay whatever its time.
    @Test func verdictsAreOrderedByRevisionNotByTheirClaimedTime() throws {
        let verifier = try VerdictVerifier(jwks: jwks, deviceID: "device-1")
        let ahead = try verifier.verify(
            try token(iat: now.addingTimeInterval(3600), exp: now.addingTimeInterval(7200), revision: 4), now: now,
            notBefore: nil)
        let mark = ahead.mark(now: now, leeway: 60)
        #expect(mark == VerdictMark(revision: 4, issuedAt: now.addingTimeInterval(60), deviceID: "device-1"))
        let corrected = try verifier.verify(try token(iat: now, revision: 5), now: now, notBefore: mark)
        #expect(corrected.revision == 5)
        // The same revision re-signed later (a key rotation, a refresh) is the same verdict: accepted.
        #expect(throws: Never.self) { try verifier.verify(try token(iat: now, revision: 4), now: now, notBefore: mark) }
        #expect {
            try verifier.verify(try token(iat: now.addingTimeInterval(7000), revision: 3), now: now, notBefore: mark)
        } throws: { ($0 as? VerdictRejection)?.reason == .replayed }
        // A collector restored from a backup: revisions went back, but the verdict is newer than any acted on.
        let later = now.addingTimeInterval(120)
        let restored = try verifier.verify(try token(iat: later, revision: 2), now: later, notBefore: mark)
        let merged = mark.merged(with: restored.mark(now: later, leeway: 60))
        #expect(merged.revision == 4 && merged.issuedAt == later)
        // …while a captured verdict from before is older by both and stays refused.
        #expect {
            try verifier.verify(
                try token(iat: now.addingTimeInterval(30), revision: 3), now: later.addingTimeInterval(10),
                notBefore: merged)
        } throws: { ($0 as? VerdictRejection)?.reason == .replayed }
        // Without revisions (an older collector) the claimed time orders them, counted at most a minute ahead.
        let unrevised = try verifier.verify(
            try token(iat: now.addingTimeInterval(3600), exp: now.addingTimeInterval(7200)), now: now, notBefore: nil)
        let timeMark = unrevised.mark(now: now, leeway: 60)
        #expect(throws: Never.self) {
            try verifier.verify(
                try token(iat: now.addingTimeInterval(61)), now: now.addingTimeInterval(61),
                notBefore: timeMark)
        }
    }

    @Test func aKeySetWithoutP256KeysIsRefused() {
        #expect(throws: VerdictRejection(.keySetInvalid, "verdict-keys.json holds no P-256 key; enroll again")) {
            try VerdictVerifier(jwks: #"{"keys":[]}"#, deviceID: "d")
        }
        #expect(throws: VerdictRejection.self) { try VerdictVerifier(jwks: "nonsense", deviceID: "d") }
    }
}
