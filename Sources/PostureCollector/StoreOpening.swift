import Logging
import PostureModel
import PostureStore
import PostureStorePostgres
import PostureStoreSQLite

#if canImport(Glibc)
    import Glibc
#endif

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Opening the configured store: the embedded SQLite file, or the PostgreSQL database several collectors
/// share (`storage.driver`).
extension Collector {
    /// For a command that runs and exits: the store, migrated, its PostgreSQL client (if any) running for
    /// the rest of this process.
    public static func openStore(_ configuration: CollectorConfiguration, logger: Logger? = nil) async throws
        -> SQLStore
    {
        guard configuration.storage.driver == "postgresql" else { return try openSQLite(configuration) }
        let logger = logger ?? Logger(label: "posture-collector")
        let store = try sharedStore(configuration, logger: logger)
        do {
            try await probe(configuration, logger: logger)
            Task { try await store.run() }
            try await store.migrate()
        } catch let error as CollectorError {
            throw error
        } catch {
            throw CollectorError(.storage, unreachable(configuration, error))
        }
        return store
    }

    /// For `serve`: on PostgreSQL the client is not running yet; it is the first of the collector's
    /// services (`services()`), and `waitForStore` migrated the schema before.
    static func openServingStore(_ configuration: CollectorConfiguration, logger: Logger) throws -> SQLStore {
        guard configuration.storage.driver == "postgresql" else { return try openSQLite(configuration) }
        return try sharedStore(configuration, logger: logger)
    }

    static func openSQLite(_ configuration: CollectorConfiguration) throws -> SQLiteStore {
        try StateDirectory.prepare(configuration.stateDirectory)
        do {
            return try SQLiteStore(path: configuration.sqlitePath)
        } catch {
            throw CollectorError(
                .storage, "cannot open the SQLite store \(configuration.sqlitePath) (storage.sqlitePath): \(error)")
        }
    }

    static func sharedStore(_ configuration: CollectorConfiguration, logger: Logger) throws -> PostgresStore {
        let storage = configuration.storage
        let client = try location(storage).clientConfiguration(password: try postgresPassword(storage))
        return PostgresStore(configuration: client, connections: storage.connections, logger: logger)
    }

    static func location(_ storage: CollectorConfiguration.Storage) throws -> PostgresLocation {
        do {
            return try PostgresLocation(url: storage.url ?? "")
        } catch {
            throw CollectorError(.configuration, "\(error)")
        }
    }

    /// One connection first: its failure names the cause (refused, TLS, password) exactly.
    static func probe(_ configuration: CollectorConfiguration, logger: Logger) async throws {
        let storage = configuration.storage
        try await PostgresStore.probe(location(storage), password: try postgresPassword(storage), logger: logger)
    }

    /// Migrates the shared schema with a client of its own, before serving; an unreachable server is
    /// retried (the caller waits), anything else is thrown.
    static func migrateSharedStore(_ configuration: CollectorConfiguration, logger: Logger) async throws {
        try await probe(configuration, logger: logger)
        let store = try sharedStore(configuration, logger: logger)
        // The client runs as a child task for as long as the migration needs it.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await store.run() }
            defer { group.cancelAll() }
            try await store.migrate()
            try await checkFleetCA(configuration, store: store)
        }
    }

    /// The first collector of a database records its CA; any other must hold the same, or the devices it
    /// enrolled would be refused by the rest of the fleet (and theirs by it).
    static func checkFleetCA(_ configuration: CollectorConfiguration, store: some FleetIdentityStore) async throws {
        let ca = try CertificateAuthority.loadOrCreate(configuration, now: Date())
        let mine = try CAFingerprint(ca.certificate).description
        let fleet = try await store.claimIdentity("ca", value: mine)
        guard fleet == mine else {
            throw CollectorError(
                .pki,
                "this collector's CA (\(mine), \(configuration.stateDirectory)/ca.crt) is not the fleet's (\(fleet)), "
                    + "which the first collector of this database recorded: copy ca.crt, ca.key, the signing keys "
                    + "and signing-keys.json from a collector of the fleet into \(configuration.stateDirectory) "
                    + "(README, Several collectors on PostgreSQL)")
        }
    }

    static func unreachable(_ configuration: CollectorConfiguration, _ error: any Error) -> String {
        "cannot use the PostgreSQL store \(configuration.storage.url ?? "") (storage.url): \(String(reflecting: error)); "
            + "check that the server is up and reachable, the user and database exist, and the password "
            + "(storage.passwordFile or the credential posture-postgres-password) is right"
    }

    /// The password from `storage.passwordFile`, else the systemd credential `posture-postgres-password`,
    /// else none. A file others can read is refused.
    static func postgresPassword(_ storage: CollectorConfiguration.Storage) throws -> String? {
        var path = storage.passwordFile
        if path == nil, let credentials = ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"] {
            let credential = credentials + "/posture-postgres-password"
            if FileManager.default.fileExists(atPath: credential) { path = credential }
        }
        guard let path else { return nil }
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw CollectorError(
                .configuration, "cannot read storage.passwordFile \(path): \(String(cString: strerror(errno)))")
        }
        if status.st_mode & 0o077 != 0 {
            throw CollectorError(
                .configuration,
                "storage.passwordFile \(path) can be read by others (mode \(String(status.st_mode & 0o777, radix: 8))); chmod 600 \(path)"
            )
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw CollectorError(.configuration, "cannot read storage.passwordFile \(path)")
        }
        return String(text.prefix { $0 != "\n" && $0 != "\r" })
    }
}
