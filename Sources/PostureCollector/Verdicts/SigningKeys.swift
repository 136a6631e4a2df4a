import Crypto
import NIOConcurrencyHelpers
import PostureModel
import _CryptoExtras

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The collector's token-signing keys: ES256 for verdicts (and SETs on request), RS256 for Security Event
/// Tokens (the SSF interoperability profile's algorithm). Created on first start in the state directory,
/// mode 0600, published as a JWKS (`kid` is the RFC 7638 thumbprint), and rotated by the schedule in
/// `signing-keys.json` (`Keyring`, written by `posture-collector keys rotate`), which the running
/// collector reads again when it changes: a new key is published before it signs, the old one after.
public final class SigningKeys: Sendable {
    /// One key from the state directory, parsed.
    struct Loaded: @unchecked Sendable {
        // @unchecked: swift-crypto's keys are immutable BoringSSL keys, safe to sign with from several
        // threads; the types only lack the annotation on Linux.
        var entry: Keyring.Entry
        var kid: String
        var jwk: String
        var es256: P256.Signing.PrivateKey?
        var rs256: _RSA.Signing.PrivateKey?
    }

    struct State: Sendable {
        var keyring: Keyring
        var loaded: [String: Loaded]
        var stamp: Date?
    }

    let stateDirectory: String
    private let state: NIOLockedValueBox<State>

    private init(stateDirectory: String, state: State) {
        self.stateDirectory = stateDirectory
        self.state = NIOLockedValueBox(state)
    }

    public static func loadOrCreate(stateDirectory: String) throws -> SigningKeys {
        // First start: the two keys of the initial schedule. Once a rotation wrote a schedule, it alone
        // names the keys (the initial files may have retired and been deleted: they are not made again).
        if !FileManager.default.fileExists(atPath: keyringPath(stateDirectory)) {
            for entry in Keyring.initial.keys
            where !FileManager.default.fileExists(atPath: stateDirectory + "/" + entry.file) {
                try create(entry.alg, at: stateDirectory + "/" + entry.file)
            }
        }
        return SigningKeys(stateDirectory: stateDirectory, state: try load(stateDirectory))
    }

    /// Writes a new private key for `alg` (0600).
    static func create(_ alg: String, at path: String) throws {
        let pem =
            alg == "RS256"
            ? try _RSA.Signing.PrivateKey(keySize: .bits2048).pemRepresentation
            : P256.Signing.PrivateKey().pemRepresentation
        try StateDirectory.write(pem, to: path, mode: 0o600)
    }

    static func keyringPath(_ stateDirectory: String) -> String { stateDirectory + "/" + Keyring.fileName }

    static func readKeyring(_ stateDirectory: String) throws -> Keyring {
        guard let data = FileManager.default.contents(atPath: keyringPath(stateDirectory)) else { return .initial }
        do {
            return try PostureReport.wireDecoder().decode(Keyring.self, from: data)
        } catch {
            throw CollectorError(
                .pki,
                "\(keyringPath(stateDirectory)) is not a signing-key schedule (\(error)); restore it from a backup or remove it to use verdict-es256.key and set-rs256.key"
            )
        }
    }

    private static func stamp(_ stateDirectory: String) -> Date? {
        try? FileManager.default.attributesOfItem(atPath: keyringPath(stateDirectory))[.modificationDate] as? Date
    }

    private static func load(_ stateDirectory: String) throws -> State {
        let keyring = try readKeyring(stateDirectory)
        var loaded: [String: Loaded] = [:]
        for entry in keyring.keys {
            let path = stateDirectory + "/" + entry.file
            do {
                let pem = try String(contentsOfFile: path, encoding: .utf8)
                loaded[entry.file] = try parse(entry, pem: pem)
            } catch {
                throw CollectorError(
                    .pki,
                    "cannot load the token-signing key \(path) (\(entry.alg)): \(error); restore it, or remove its entry from \(keyringPath(stateDirectory)) (verifiers must then fetch the new JWKS)"
                )
            }
        }
        return State(keyring: keyring, loaded: loaded, stamp: stamp(stateDirectory))
    }

    private static func parse(_ entry: Keyring.Entry, pem: String) throws -> Loaded {
        if entry.alg == "RS256" {
            let key = try _RSA.Signing.PrivateKey(pemRepresentation: pem)
            let primitives = try key.publicKey.getKeyPrimitives()
            let n = Base64URL.encode(primitives.modulus)
            let e = Base64URL.encode(primitives.publicExponent)
            // RFC 7638: the required members, lexicographic order, no whitespace.
            let kid = Base64URL.encode(SHA256.hash(data: Data(#"{"e":"\#(e)","kty":"RSA","n":"\#(n)"}"#.utf8)))
            let jwk = #"{"kty":"RSA","n":"\#(n)","e":"\#(e)","kid":"\#(kid)","alg":"RS256","use":"sig"}"#
            return Loaded(entry: entry, kid: kid, jwk: jwk, rs256: key)
        }
        let key = try P256.Signing.PrivateKey(pemRepresentation: pem)
        let raw = key.publicKey.rawRepresentation
        let x = Base64URL.encode(raw.prefix(32))
        let y = Base64URL.encode(raw.suffix(32))
        let kid = Base64URL.encode(SHA256.hash(data: Data(#"{"crv":"P-256","kty":"EC","x":"\#(x)","y":"\#(y)"}"#.utf8)))
        let jwk = #"{"kty":"EC","crv":"P-256","x":"\#(x)","y":"\#(y)","kid":"\#(kid)","alg":"ES256","use":"sig"}"#
        return Loaded(entry: entry, kid: kid, jwk: jwk, es256: key)
    }

    /// Reads the schedule again if its file changed. A schedule that does not load is logged by the
    /// caller and the keys in use are kept.
    @discardableResult
    public func refresh() throws -> Bool {
        let current = state.withLockedValue { $0.stamp }
        guard Self.stamp(stateDirectory) != current else { return false }
        let next = try Self.load(stateDirectory)
        state.withLockedValue { $0 = next }
        return true
    }

    /// The schedule in force.
    public func schedule() -> Keyring { state.withLockedValue { $0.keyring } }

    /// `{"keys": [...]}`, served at `/.well-known/jwks.json`: every key published now.
    public func jwks(at now: Date = Date()) -> String {
        let state = self.state.withLockedValue { $0 }
        let keys = state.keyring.published(at: now).compactMap { state.loaded[$0.file]?.jwk }
        return #"{"keys":["# + keys.joined(separator: ",") + "]}"
    }

    /// The `kid` of the key signing `alg` now.
    public func keyID(_ alg: String = "ES256", at now: Date = Date()) -> String? {
        signer(alg, at: now)?.kid
    }

    private func signer(_ alg: String, at now: Date) -> Loaded? {
        let state = self.state.withLockedValue { $0 }
        return state.keyring.signer(alg, at: now).flatMap { state.loaded[$0.file] }
    }

    /// A compact JWS of `claims` (JSON object bytes) with `alg` ES256 or RS256, by the key signing now.
    public func sign(claims: Data, type: String, algorithm: String = "ES256", now: Date = Date()) throws -> String {
        guard let key = signer(algorithm == "RS256" ? "RS256" : "ES256", at: now) else {
            throw CollectorError(
                .pki, "no \(algorithm) signing key is scheduled to sign now (posture-collector keys list)")
        }
        let header = #"{"alg":"\#(key.entry.alg)","kid":"\#(key.kid)","typ":"\#(type)"}"#
        let input = Base64URL.encode(Data(header.utf8)) + "." + Base64URL.encode(claims)
        let signature: Data
        if let rs256 = key.rs256 {
            signature = try rs256.signature(for: Data(input.utf8), padding: .insecurePKCS1v1_5).rawRepresentation
        } else if let es256 = key.es256 {
            signature = try es256.signature(for: Data(input.utf8)).rawRepresentation
        } else {
            throw CollectorError(.pki, "the \(algorithm) key \(key.entry.file) did not load")
        }
        return input + "." + Base64URL.encode(signature)
    }

    /// Schedules new keys (both algorithms unless one is named): published now, signing after `lead`,
    /// the old ones published for `overlap` after that. Returns the new schedule; removes the files of keys
    /// no longer published.
    public static func rotate(
        stateDirectory: String, algorithms: [String] = Keyring.algorithms, lead: TimeInterval, overlap: TimeInterval,
        now: Date = Date()
    ) throws -> Keyring {
        var keyring = try readKeyring(stateDirectory)
        var retired: [Keyring.Entry] = []
        let stamp = Int(now.timeIntervalSince1970)
        for alg in algorithms {
            let file = (alg == "RS256" ? "set-rs256-" : "verdict-es256-") + "\(stamp).key"
            try create(alg, at: stateDirectory + "/" + file)
            let (next, dropped) = keyring.rotating(alg, file: file, now: now, lead: lead, overlap: overlap)
            keyring = next
            retired += dropped
        }
        let data = try PostureReport.makeEncoder(pretty: true).encode(keyring)
        try StateDirectory.write(
            String(decoding: data, as: UTF8.self) + "\n", to: keyringPath(stateDirectory), mode: 0o600)
        for entry in retired { try? FileManager.default.removeItem(atPath: stateDirectory + "/" + entry.file) }
        return keyring
    }
}
