import Crypto
import Foundation
import PostureModel
import Testing

@Suite struct CompactJWSTests {
    let key = SoftwareSigningKey(P256.Signing.PrivateKey())

    @Test func signedPayloadVerifiesOnlyUnderItsKey() throws {
        let payload = Data(#"{"hello":"world"}"#.utf8)
        let jws = try CompactJWS.sign(payload: payload, with: key)
        #expect(jws.header.alg == "ES256")
        #expect(jws.header.kid == KeyThumbprint(key.publicKey).value)
        #expect(try CompactJWS(parsing: jws.compact).verifiedPayload(with: key.publicKey) == payload)
        let other = P256.Signing.PrivateKey().publicKey
        #expect(.keyMismatch == refusal { _ = try jws.verifiedPayload(with: other) })
    }

    @Test func everyTamperedPartIsRefused() throws {
        let jws = try CompactJWS.sign(payload: Data("{}".utf8), with: key).compact
        let parts = jws.split(separator: ".").map(String.init)
        let changedPayload = [parts[0], Base64URL.encode(Array("{\"a\":1}".utf8)), parts[2]].joined(separator: ".")
        #expect(
            .badSignature
                == refusal { _ = try CompactJWS(parsing: changedPayload).verifiedPayload(with: key.publicKey) })
        let noneHeader = Base64URL.encode(Array(#"{"alg":"none","kid":"x"}"#.utf8))
        #expect(
            .unsupportedAlgorithm
                == refusal { _ = try CompactJWS(parsing: [noneHeader, parts[1], parts[2]].joined(separator: ".")) })
        #expect(.malformedJWS == refusal { _ = try CompactJWS(parsing: parts[0] + "." + parts[1]) })
        #expect(
            .malformedJWS
                == refusal { _ = try CompactJWS(parsing: [parts[0], parts[1], "c2hvcnQ"].joined(separator: ".")) })
    }

    @Test func base64URLRoundTripsAndRefusesOtherAlphabets() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(($0 * 37 + length) & 0xff) }
            let text = Base64URL.encode(bytes)
            #expect(!text.contains("=") && !text.contains("+") && !text.contains("/"))
            #expect(Base64URL.decode(text) == Data(bytes))
        }
        #expect(Base64URL.decode("ab+c") == nil)
        #expect(Base64URL.decode("abc=") == nil)
        #expect(Base64URL.decode("a") == nil)
    }

    @Test func deviceIdentitiesAndPinsParseStrictly() {
        let identity = DeviceIdentity(uri: "spiffe://posture.local/device/0f3e-aa")
        #expect(identity?.trustDomain == "posture.local" && identity?.deviceID == "0f3e-aa")
        #expect(DeviceIdentity(uri: "spiffe://posture.local/device/UPPER") == nil)
        #expect(DeviceIdentity(uri: "spiffe://posture.local/workload/x") == nil)
        #expect(DeviceIdentity(uri: "https://posture.local/device/x") == nil)
        #expect(DeviceIdentity(uri: "spiffe://posture.local/device/x/y") == nil)
        #expect(CAFingerprint(parsing: "sha256:" + String(repeating: "ab", count: 32)) != nil)
        #expect(CAFingerprint(parsing: "sha1:" + String(repeating: "ab", count: 32)) == nil)
        #expect(CAFingerprint(parsing: "sha256:" + String(repeating: "zz", count: 32)) == nil)
        #expect(DurationText("500ms")?.duration == .milliseconds(500))
        #expect(DurationText("15m")?.duration == .seconds(900))
        #expect(DurationText("7d")?.duration == .seconds(7 * 86400))
        #expect(DurationText("15") == nil && DurationText("-1s") == nil && DurationText("1w") == nil)
    }
}

/// The refusal's code, or nil when `body` did not throw: tests compare codes; messages are for people.
func refusal(_ body: () throws -> Void) -> AttestationRefusal.Code? {
    do {
        try body()
        return nil
    } catch let refusal as AttestationRefusal {
        return refusal.code
    } catch {
        return .internalError
    }
}
