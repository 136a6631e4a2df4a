import ArgumentParser
import PostureCollector
import PostureModel
import SystemdJournal

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `posture-collector keys rotate|list`: the token-signing keys and their schedule.
struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "The verdict and SET signing keys: rotate them, list their schedule.",
        subcommands: [Rotate.self, List.self])

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Schedule new signing keys: published at once, signing after --lead; the old ones stay published for --overlap.",
            discussion: """
                The running collector follows the new schedule within 5 seconds (or at SIGHUP); no restart, and
                agents learn the new key from the collector when they first meet it, so nothing is re-enrolled.
                --lead must exceed how long verifiers cache the JWKS (Cache-Control: max-age=300), --overlap the
                longest a verdict or SET signed by the old key is relied on.
                """)
        @OptionGroup var options: ConfigOptions
        @Option(help: "How long the new key is published before it signs (default 10m).") var lead: String = "10m"
        @Option(help: "How long the old key stays published after the new one signs (default 24h).")
        var overlap: String = "24h"
        @Option(help: "ES256 (verdicts) or RS256 (SETs); both by default.") var alg: String?

        func run() async throws {
            guard let lead = DurationText(lead), lead.seconds >= 0 else {
                throw ValidationError("--lead: a duration such as 10m")
            }
            guard let overlap = DurationText(overlap), overlap.seconds >= 0 else {
                throw ValidationError("--overlap: a duration such as 24h")
            }
            let algorithms = alg.map { [$0.uppercased()] } ?? Keyring.algorithms
            guard algorithms.allSatisfy(Keyring.algorithms.contains) else {
                throw ValidationError("--alg: ES256 or RS256")
            }
            let configuration = try options.load()
            _ = try SigningKeys.loadOrCreate(stateDirectory: configuration.stateDirectory)
            let keyring = try SigningKeys.rotate(
                stateDirectory: configuration.stateDirectory, algorithms: algorithms, lead: lead.seconds,
                overlap: overlap.seconds)
            print(List.describe(keyring, now: Date()))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The signing-key schedule: what signs, what is published.")
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let configuration = try options.load()
            let keys = try SigningKeys.loadOrCreate(stateDirectory: configuration.stateDirectory)
            print(List.describe(try keys.schedule(), now: Date()))
        }

        static func describe(_ keyring: Keyring, now: Date) -> String {
            let published = keyring.published(at: now)
            return keyring.keys.sorted { ($0.alg, $0.signsFrom) < ($1.alg, $1.signsFrom) }.map { entry in
                let state: String
                if keyring.signer(entry.alg, at: now) == entry {
                    state = "signing"
                } else if entry.signsFrom > now {
                    state = "published, signs from \(entry.signsFrom.formatted(.iso8601))"
                } else {
                    state = published.contains(entry) ? "published, retiring" : "retired"
                }
                return "\(entry.alg)  \(entry.file)  \(state)"
            }.joined(separator: "\n")
        }
    }
}

/// `posture-collector journal-catalog`: the catalog of every MESSAGE_ID both daemons write, as shipped in
/// /usr/lib/systemd/catalog/posture.catalog (regenerate packaging/systemd/posture.catalog with it).
struct JournalCatalogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal-catalog", abstract: "Print the journal catalog (journalctl -x) of every MESSAGE_ID.",
        shouldDisplay: false)

    func run() async throws { print(JournalCatalog.render(), terminator: "") }
}

/// `posture-collector backup --to FILE`: everything the collector is, consistently, while it serves.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup", abstract: "Write a consistent online backup of the store, CA and signing keys.",
        discussion: """
            The store is copied as one snapshot (SQLite VACUUM INTO) without stopping the collector; the archive \
            (ustar, mode 0600) also holds the CA and the token-signing keys with their schedule: keep it as you \
            keep ca.key. Restore: stop the collector, `tar -xf FILE -C /var/lib/posture-collector` into an empty \
            state directory (owned by posture-collector, mode 0700), start it. Devices deliver their spooled \
            reports to it; reports newer than the backup are re-signed by the agents under fresh nonces.
            """)
    @OptionGroup var options: ConfigOptions
    @Option(help: ArgumentHelp("The archive to write.", valueName: "file")) var to: String

    func run() async throws {
        let configuration = try options.load()
        let members = try await CollectorBackup.write(configuration, to: to)
        print("backup \(to): \(members.joined(separator: ", "))")
    }
}
