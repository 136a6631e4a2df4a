#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// When each token-signing key is published, signs and retires: the schedule `posture-collector keys
/// rotate` writes (`signing-keys.json` in the state directory) and the collector follows.
///
/// A new key is published in the JWKS `lead` before it signs, so every verifier that caches the JWKS
/// (up to its `max-age`) knows it before the first token it signs; its predecessor stays published for
/// `overlap` after it stopped signing, so tokens it signed still verify until they expire. Pure: the
/// collector and the command line read the same answers from the same file and clock.
public struct Keyring: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        /// The PEM file, relative to the state directory.
        public var file: String
        /// `ES256` (verdicts, SETs on request) or `RS256` (SETs).
        public var alg: String
        /// When it starts signing (its predecessor stops then).
        public var signsFrom: Date
        /// How long its predecessor stays published after `signsFrom`.
        public var predecessorOverlap: TimeInterval

        public init(file: String, alg: String, signsFrom: Date, predecessorOverlap: TimeInterval) {
            self.file = file
            self.alg = alg
            self.signsFrom = signsFrom
            self.predecessorOverlap = predecessorOverlap
        }
    }

    public var keys: [Entry]

    public init(keys: [Entry]) { self.keys = keys }

    public static let algorithms = ["ES256", "RS256"]
    public static let fileName = "signing-keys.json"

    /// Before any rotation: the two keys created at first start, signing since always.
    public static let initial = Keyring(keys: [
        Entry(file: "verdict-es256.key", alg: "ES256", signsFrom: .distantPast, predecessorOverlap: 0),
        Entry(file: "set-rs256.key", alg: "RS256", signsFrom: .distantPast, predecessorOverlap: 0),
    ])

    private func chain(_ alg: String) -> [Entry] {
        keys.filter { $0.alg == alg }.sorted { $0.signsFrom < $1.signsFrom }
    }

    /// The key that signs `alg` tokens now: the newest whose time has come.
    public func signer(_ alg: String, at now: Date) -> Entry? {
        chain(alg).last { $0.signsFrom <= now }
    }

    /// The keys the JWKS lists now: those about to sign, the signer, and each replaced key until its
    /// successor's overlap has passed.
    public func published(at now: Date) -> [Entry] {
        Self.algorithms.flatMap { alg -> [Entry] in
            let chain = chain(alg)
            return chain.indices.filter { index in
                guard index + 1 < chain.count else { return true }
                let successor = chain[index + 1]
                return now < successor.signsFrom.addingTimeInterval(successor.predecessorOverlap)
            }.map { chain[$0] }
        }
    }

    /// Schedules a new key for `alg`: published now, signing after `lead`, its predecessor published for
    /// `overlap` after that. Keys no longer published are dropped from the schedule (and their files
    /// are the caller's to remove).
    public func rotating(_ alg: String, file: String, now: Date, lead: TimeInterval, overlap: TimeInterval)
        -> (Keyring, retired: [Entry])
    {
        var next = self
        next.keys.append(
            Entry(file: file, alg: alg, signsFrom: now.addingTimeInterval(lead), predecessorOverlap: overlap))
        let kept = next.published(at: now)
        let retired = next.keys.filter { !kept.contains($0) }
        next.keys = next.keys.filter { kept.contains($0) }
        return (next, retired)
    }
}
