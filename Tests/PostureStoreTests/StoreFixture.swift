import Foundation
import Logging
import PostgresNIO
import PostureStore
import PostureStorePostgres
import PostureStoreSQLite
import TestSupport
import Testing

/// The backends every conformance test runs against.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgresql

    var testDescription: String { rawValue }

    /// Both, but PostgreSQL only where it is installed; in CI always (`.ci/run` installs it), so a missing
    /// install step fails instead of skipping.
    static var available: [StoreKind] {
        PostgresServer.missing == nil || Requirement.isCI ? allCases : [.sqlite]
    }
}

/// A fresh store of one kind: a new SQLite file, or a new database on the test process's PostgreSQL
/// server (`PostgresServer`), each with its own client running until `close()`.
final class StoreFixture: Sendable {
    let kind: StoreKind
    let store: SQLStore
    /// The SQLite file, or the PostgreSQL database's name.
    let location: String
    let endpoint: PostgresServer.Endpoint?
    private let running: Task<Void, Never>?

    private init(
        kind: StoreKind, store: SQLStore, location: String, endpoint: PostgresServer.Endpoint?,
        running: Task<Void, Never>?
    ) {
        self.kind = kind
        self.store = store
        self.location = location
        self.endpoint = endpoint
        self.running = running
    }

    static func open(_ kind: StoreKind) async throws -> StoreFixture {
        switch kind {
        case .sqlite:
            let path = try Paths.temporaryDirectory("store").appendingPathComponent("collector.sqlite").path
            return StoreFixture(
                kind: kind, store: try SQLiteStore(path: path), location: path, endpoint: nil, running: nil)
        case .postgresql:
            let (endpoint, name) = try await PostgresServer.shared.database("store")
            return try await connect(endpoint: endpoint, database: name)
        }
    }

    static func connect(endpoint: PostgresServer.Endpoint, database: String) async throws -> StoreFixture {
        let configuration = PostgresClient.Configuration(
            host: endpoint.host, port: endpoint.port, username: endpoint.username, password: nil, database: database,
            tls: .disable)
        // The whole test suite shares two cores and the test process's cooperative threads: a long wait,
        // so a busy machine is not mistaken for an unreachable server.
        let store = PostgresStore(
            configuration: configuration, connections: 4, connectionWait: .seconds(300),
            logger: Logger(label: "test-store"))
        let running = Task { _ = try? await store.run() }
        try await store.migrate()
        return StoreFixture(kind: .postgresql, store: store, location: database, endpoint: endpoint, running: running)
    }

    /// The same database opened again, as a restarted collector would.
    func reopen() async throws -> StoreFixture {
        switch kind {
        case .sqlite:
            StoreFixture(
                kind: kind, store: try SQLiteStore(path: location), location: location, endpoint: nil, running: nil)
        case .postgresql:
            try await Self.connect(endpoint: endpoint!, database: location)
        }
    }

    /// Runs SQL outside the store, with an independent client (Python's sqlite3, or psql): how a tamperer
    /// or another tool would write.
    func sql(_ statements: String) throws {
        switch kind {
        case .sqlite:
            try Shell.run([
                "/usr/bin/python3", "-c",
                "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()",
                location, statements,
            ])
        case .postgresql:
            try Shell.run([
                "psql", "-v", "ON_ERROR_STOP=1", "-q", "-h", endpoint!.host, "-p", String(endpoint!.port), "-U",
                endpoint!.username, "-d", location, "-c", statements,
            ])
        }
    }

    func close() { running?.cancel() }

    deinit { running?.cancel() }
}
