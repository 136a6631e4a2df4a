import Foundation
import GRDB
import PostureModel
import PostureStore

/// The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so an accepted attestation
/// survives a crash of the process and of the machine.
public final class SQLiteStore: SQLStore, @unchecked Sendable {
    let pool: DatabasePool
    public let path: String

    public init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        // DatabasePool sets synchronous=NORMAL after prepareDatabase; durability needs FULL.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        try Self.migrator.migrate(pool)
        try pool.write { db in try Self.fillCertificateFingerprints(db) }
        super.init(backend: SQLiteBackend(pool: pool))
    }

    public static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: SQLiteSchema.version1)
        }
        migrator.registerMigration("v2") { db in
            try db.execute(sql: SQLiteSchema.version2)
        }
        migrator.registerMigration("v3") { db in
            try db.execute(sql: SQLiteSchema.auditLog)
            try StoreMigrations.chainAuditTrail(GRDBExecutor(db: db))
        }
        migrator.registerMigration("v4") { db in
            try db.execute(sql: SQLiteSchema.fleetTables)
            try db.execute(sql: SQLiteSchema.rebuildFleet)
        }
        // Only a column and an index: no foreign key to re-check over the whole store.
        migrator.registerMigration("v5", foreignKeyChecks: .immediate) { db in
            try addCertificateFingerprints(db)
        }
        // Security events by time, for their retention (storage.keepSecurityEvents).
        migrator.registerMigration("v6", foreignKeyChecks: .immediate) { db in
            try db.execute(sql: "CREATE INDEX security_events_at ON security_events (at)")
            // One row rewritten by readiness checks: proof that a write reaches the disk.
            try db.execute(
                sql: "CREATE TABLE store_health (id INTEGER PRIMARY KEY, checked_at DOUBLE PRECISION NOT NULL)")
        }
        migrator.registerMigration("v7", foreignKeyChecks: .immediate) { db in
            try db.execute(sql: SQLiteSchema.dropFleetTriggers)
            // Work one collector at a time does (`LeaseStore`): the same table as PostgreSQL's.
            try db.execute(
                sql:
                    "CREATE TABLE store_leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL, until DOUBLE PRECISION NOT NULL)"
            )
            // What every collector of a shared store agrees on (`FleetIdentityStore`).
            try db.execute(sql: "CREATE TABLE store_identity (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
            // Dashboard sessions, which any collector of a fleet serves (`SessionStore`).
            try db.execute(
                sql: """
                    CREATE TABLE dashboard_sessions (
                        id_hash TEXT PRIMARY KEY, credential_hash TEXT NOT NULL, name TEXT NOT NULL, csrf TEXT NOT NULL,
                        created DOUBLE PRECISION NOT NULL, last_used DOUBLE PRECISION NOT NULL);
                    CREATE INDEX dashboard_sessions_credential ON dashboard_sessions (credential_hash, created);
                    """)
        }
        migrator.registerMigration("v8") { db in
            try db.execute(sql: SQLiteSchema.reportBodies)
        }
        migrator.registerMigration("v9") { db in
            try db.execute(sql: SQLiteSchema.streamSettings)
        }
        migrator.registerMigration("v10") { db in
            try db.execute(sql: SQLiteSchema.access)
        }
        migrator.registerMigration("v11", foreignKeyChecks: .immediate) { db in
            try db.execute(sql: SQLiteSchema.tpmIdentity)
        }
        // When a policy engine last pulled each device's verdict (its maturity stage asks).
        migrator.registerMigration("v12", foreignKeyChecks: .immediate) { db in
            try db.execute(sql: SQLiteSchema.verdictPulls)
        }
        return migrator
    }

    /// Derives the fleet index again from the source rows, in one transaction: for rows written by
    /// another tool (an import, a benchmark's seed) or an index suspected wrong.
    public func rebuildFleetIndex() async throws {
        try await pool.write { db in try db.execute(sql: SQLiteSchema.rebuildFleet) }
    }

    /// A consistent copy of the whole store at `path` (SQLite's VACUUM INTO: one read transaction, so a
    /// snapshot while others write, compacted). `path` must not exist.
    public func snapshot(to path: String) async throws {
        try await pool.writeWithoutTransaction { db in
            try db.execute(sql: "VACUUM INTO ?", arguments: [path])
        }
    }

    /// Schema v5: certificates are found by fingerprint through an index, not by hashing every one.
    /// One streaming UPDATE (a store holds millions of renewed certificates), then the index.
    static func addCertificateFingerprints(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE certificates ADD COLUMN fingerprint TEXT")
        try fillCertificateFingerprints(db)
        try db.execute(sql: "CREATE INDEX certificates_fingerprint ON certificates (fingerprint)")
        // Retention finds expired certificates and nonces without scanning every row.
        try db.execute(sql: "CREATE INDEX certificates_not_after ON certificates (not_after)")
        try db.execute(sql: "CREATE INDEX nonces_superseded ON nonces (superseded_at)")
    }

    /// Fingerprints rows that have none: all of them in v5, and afterwards any a collector of an older
    /// version inserted into this store (during a package upgrade, say).
    static func fillCertificateFingerprints(_ db: Database) throws {
        db.add(
            function: DatabaseFunction("posture_certificate_sha256", argumentCount: 1, pure: true) { values in
                String.fromDatabaseValue(values[0]).flatMap(CertificateFingerprint.sha256(pem:))
            })
        try db.execute(
            sql: "UPDATE certificates SET fingerprint = posture_certificate_sha256(pem) WHERE fingerprint IS NULL")
    }
}
