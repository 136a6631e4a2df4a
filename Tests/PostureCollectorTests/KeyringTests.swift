import Foundation
import PostureCollector
import Testing

/// The signing-key schedule: a new key is published before it signs, the old one after it stopped.
@Suite struct KeyringTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func files(_ entries: [Keyring.Entry]) -> [String] { entries.map(\.file) }

    @Test func aRotatedKeyIsPublishedBeforeItSignsAndItsPredecessorAfter() {
        let (keyring, retired) = Keyring.initial.rotating(
            "ES256", file: "verdict-es256-2.key", now: t0, lead: 600, overlap: 86400)
        #expect(retired.isEmpty)
        // Before the lead: the old key signs, both are published.
        #expect(keyring.signer("ES256", at: t0.addingTimeInterval(599))?.file == "verdict-es256.key")
        #expect(
            files(keyring.published(at: t0.addingTimeInterval(599)))
                == ["verdict-es256.key", "verdict-es256-2.key", "set-rs256.key"])
        // After it: the new key signs, the old stays published through the overlap, then goes.
        #expect(keyring.signer("ES256", at: t0.addingTimeInterval(600))?.file == "verdict-es256-2.key")
        #expect(files(keyring.published(at: t0.addingTimeInterval(600 + 86399))).contains("verdict-es256.key"))
        #expect(!files(keyring.published(at: t0.addingTimeInterval(600 + 86400))).contains("verdict-es256.key"))
        // RS256 was not rotated.
        #expect(keyring.signer("RS256", at: t0.addingTimeInterval(10_000))?.file == "set-rs256.key")
    }

    @Test func rotatingAgainRetiresOnlyWhatIsNoLongerPublished() {
        let (first, _) = Keyring.initial.rotating("ES256", file: "b.key", now: t0, lead: 10, overlap: 100)
        // A second rotation inside the overlap keeps the first key; one after it drops it.
        let (inside, keptRetired) = first.rotating(
            "ES256", file: "c.key", now: t0.addingTimeInterval(50), lead: 10, overlap: 100)
        #expect(keptRetired.isEmpty)
        #expect(inside.signer("ES256", at: t0.addingTimeInterval(55))?.file == "b.key")
        #expect(files(inside.published(at: t0.addingTimeInterval(55))).contains("verdict-es256.key"))
        let (after, retired) = first.rotating(
            "ES256", file: "c.key", now: t0.addingTimeInterval(500), lead: 10, overlap: 100)
        #expect(files(retired) == ["verdict-es256.key"])
        #expect(files(after.published(at: t0.addingTimeInterval(500))) == ["b.key", "c.key", "set-rs256.key"])
    }

    @Test func rotateWritesKeysThatSignAndAScheduleTheCollectorReads() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keyring-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let keys = try SigningKeys.loadOrCreate(stateDirectory: directory)
        let oldID = try #require(keys.keyID("ES256", at: t0))
        _ = try SigningKeys.rotate(stateDirectory: directory, lead: 600, overlap: 3600, now: t0)
        #expect(try keys.refresh())
        let newID = try #require(keys.keyID("ES256", at: t0.addingTimeInterval(601)))
        #expect(newID != oldID && keys.keyID("ES256", at: t0) == oldID)
        let jwks = keys.jwks(at: t0)
        #expect(jwks.contains(oldID) && jwks.contains(newID))
        let token = try keys.sign(claims: Data("{}".utf8), type: "JWT", now: t0.addingTimeInterval(601))
        #expect(token.hasPrefix(Base64URLPrefix.of(#"{"alg":"ES256","kid":"\#(newID)""#)))
        let mode = try FileManager.default.attributesOfItem(atPath: directory + "/signing-keys.json")[.posixPermissions]
        #expect(mode as? Int == 0o600)
    }
}

/// The base64url of a JSON header's first bytes, to check a JWS header without decoding it.
enum Base64URLPrefix {
    static func of(_ text: String) -> String {
        let whole = Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
        // Only the complete 4-character groups are fixed by these bytes alone.
        return String(whole.prefix(text.utf8.count / 3 * 4))
    }
}
