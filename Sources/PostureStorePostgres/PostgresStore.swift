import Logging
import PostgresNIO
import PostureStore
import ServiceLifecycle

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The shared store of several collectors: the same scripts as SQLite's, on PostgreSQL through
/// postgres-nio. Its client is a service: run it (in the collector's ServiceGroup), then `migrate()`.
public final class PostgresStore: SQLStore, Service, SharedStoreEvents, @unchecked Sendable {
    public let client: PostgresClient
    let postgres: PostgresBackend

    /// `connections` bounds both the pool and the transactions in flight; a transaction that gets no
    /// connection within `connectionWait` fails (`PostgresUnavailable`).
    public init(
        configuration: PostgresClient.Configuration, connections: Int = 8, connectionWait: Duration = .seconds(10),
        logger: Logger
    ) {
        var configuration = configuration
        // One more for LISTEN (`events()`), which holds its connection.
        configuration.options.maximumConnections = connections + 1
        // The client's own background log (each failed connection attempt) only from warnings up: an
        // outage is reported once by the collector, not per attempt.
        var background = logger
        background.logLevel = max(logger.logLevel, .warning)
        client = PostgresClient(configuration: configuration, backgroundLogger: background)
        postgres = PostgresBackend(
            client: client, threads: connections, connectionWait: connectionWait, logger: logger)
        super.init(backend: postgres)
    }

    /// Runs the connection pool until cancelled (or the service group shuts down).
    public func run() async throws {
        await client.run()
        try await postgres.shutDown()
    }

    /// Connects once and logs in, so that what is wrong (the address, TLS, the password) is said in the
    /// server's or the TLS library's own words, which a pool retrying in the background would only log.
    public static func probe(_ location: PostgresLocation, password: String?, logger: Logger) async throws {
        let connection = try await PostgresConnection.connect(
            configuration: try location.connectionConfiguration(password: password), id: 0, logger: logger)
        try await connection.close()
    }

    /// Brings the schema to this version's, once, whichever collectors start together.
    public func migrate() async throws {
        try await postgres.write { db in
            try db.execute("SELECT pg_advisory_xact_lock(\(PostgresSchema.lock))", [])
            try db.execute("CREATE TABLE IF NOT EXISTS posture_schema (version INTEGER NOT NULL)", [])
            let version =
                try db.row("SELECT MAX(version) AS version FROM posture_schema")?.optionalInt64("version") ?? 0
            for (index, statements) in PostgresSchema.versions.enumerated() where index + 1 > version {
                for statement in statements { try db.execute(statement, []) }
                if index + 1 == 2 {
                    // Version 1's rows, into the days they were received (partitions made first).
                    try AttestationPartitions.ensure(now: Date(), db)
                    try db.execute(
                        """
                        INSERT INTO attestations (device_id, sequence, issued_at, received_at, delivery, jws, journal_counts)
                        SELECT device_id, sequence, issued_at, received_at, delivery, jws, journal_counts FROM attestations_v1
                        """, [])
                    try db.execute("DROP TABLE attestations_v1", [])
                }
                try db.execute("INSERT INTO posture_schema (version) VALUES (?)", [index + 1])
            }
            try AttestationPartitions.ensure(now: Date(), db)
        }
    }

    /// Whole days of attestations received before `before` are dropped (each device's newest moves to the
    /// default partition); rows in the default partition are deleted one by one. Days ahead are made here
    /// too: retention runs on one collector at a time, every few minutes.
    override public func pruneAttestations(before: Date, batch: Int) async throws -> (deleted: Int, keptFrom: Date) {
        try await postgres.write { db in
            try AttestationPartitions.ensure(now: Date(), db)
            var deleted = 0
            for day in try AttestationPartitions.list(db) where day.end <= before.timeIntervalSince1970 {
                deleted += try AttestationPartitions.drop(day, db)
            }
            deleted += try db.execute(
                """
                DELETE FROM attestations_kept t WHERE received_at < ?
                AND sequence <> COALESCE((SELECT s.sequence FROM device_state s WHERE s.device_id = t.device_id), -1)
                """, [before])
            // The day that holds the cutoff keeps what it received before it until the whole day is past.
            let straddling = try AttestationPartitions.list(db).first { $0.start < before.timeIntervalSince1970 }
            return (deleted, Date(timeIntervalSince1970: straddling?.start ?? before.timeIntervalSince1970))
        }
    }

    /// Other collectors' changes (LISTEN): held on one connection of the pool, listened to again after
    /// the connection or the server is lost (changes meanwhile are caught up by the caller's own polling).
    public func events() -> AsyncStream<StoreEvent> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: StoreEvent.self, bufferingPolicy: .bufferingNewest(10_000))
        let node = postgres.node
        let task = Task {
            while !Task.isCancelled {
                do {
                    try await client.withConnection { connection in
                        for try await notification in try await connection.listen(PostgresExecutor.channel) {
                            let parts = notification.payload.split(separator: " ", maxSplits: 2).map(String.init)
                            guard parts.count >= 2, parts[0] != node else { continue }
                            if parts[1] == "device", parts.count == 3 {
                                continuation.yield(.device(parts[2]))
                            } else if parts[1] == "action" {
                                continuation.yield(.action)
                            }
                        }
                    }
                } catch {
                    if Task.isCancelled { break }
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}
