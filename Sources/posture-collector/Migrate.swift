import ArgumentParser
import PostureCollector
import PostureStore
import PostureStoreSQLite

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move an embedded SQLite store into the configured PostgreSQL store.",
        discussion: """
            Copies every row of FILE (a collector.sqlite, from this release or an earlier one: it is brought to \
            this release's schema first) into the empty PostgreSQL database that storage.url names, then \
            verifies the audit trail there. Stop the collector that used FILE first. On failure, drop and \
            create the database again and rerun.
            """)
    @OptionGroup var options: ConfigOptions
    @Option(help: "The SQLite store to move (e.g. /var/lib/posture-collector/collector.sqlite).") var from: String

    func run() async throws {
        let configuration = try options.load()
        guard configuration.storage.driver == "postgresql" else {
            throw CollectorError(
                .configuration,
                "migrate moves a SQLite store into PostgreSQL, but storage.driver is \(configuration.storage.driver); set storage.driver: postgresql and storage.url in the configuration"
            )
        }
        guard FileManager.default.fileExists(atPath: from) else {
            throw CollectorError(.notFound, "--from \(from): no such file")
        }
        let source = try SQLiteStore(path: from)
        let destination = try await Collector.openStore(configuration)
        let before = try await source.verifyAuditTrail()
        let copied = try await StoreCopy.copy(from: source, to: destination) { table, rows in
            if rows % 100_000 == 0 { print("  \(table): \(rows) rows") }
        }
        for (table, rows) in copied.sorted(by: { $0.key < $1.key }) where rows > 0 { print("\(table): \(rows) rows") }
        let after = try await destination.verifyAuditTrail()
        guard after.problems.isEmpty, after.head == before.head else {
            throw CollectorError(
                .storage,
                "the audit trail does not verify after the copy (head \(after.head), was \(before.head)): \(after.problems.prefix(5))"
            )
        }
        print("audit trail intact: \(after.entries) entries, head \(after.head) (the same as in \(from))")
    }
}
