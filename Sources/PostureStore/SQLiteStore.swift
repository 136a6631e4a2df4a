import GRDB
import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so an accepted attestation
/// survives a crash of the process and of the machine.
public final class SQLiteStore: PostureStore {
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
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: StoreSchema.version1)
        }
        migrator.registerMigration("v2") { db in
            try db.execute(sql: StoreSchema.version2)
        }
        migrator.registerMigration("v3") { db in
            try AuditTrail.migrate(db)
        }
        migrator.registerMigration("v4") { db in
            try db.execute(sql: FleetIndex.tables)
            try db.execute(sql: FleetIndex.triggers)
            try db.execute(sql: FleetIndex.rebuild)
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
        return migrator
    }

    public func insertToken(_ token: TokenRecord, recording action: OperatorAction?) async throws {
        try await pool.write { db in
            if let action { try Self.insertAction(action, db: db) }
            try db.execute(
                sql: """
                    INSERT INTO tokens (id, hash, reusable, allow_reenroll, labels, created_at, expires_at, uses)
                    VALUES (?, ?, ?, ?, ?, ?, ?, 0)
                    """,
                arguments: [
                    token.id, token.hash, token.reusable, token.allowReenroll, try StoreCoding.json(token.labels),
                    token.createdAt.timeIntervalSince1970, token.expiresAt.timeIntervalSince1970,
                ])
        }
    }

    public func tokens() async throws -> [TokenRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM tokens ORDER BY created_at").map(StoreCoding.token)
        }
    }

    public func enroll(_ enrollment: Enrollment, now: Date) async throws {
        try await pool.write { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT * FROM tokens WHERE hash = ?", arguments: [enrollment.tokenHash])
            else {
                throw AttestationRefusal(
                    .tokenInvalid,
                    "the enrollment token is not known to this collector; create one with `posture-collector token create`"
                )
            }
            let token = try StoreCoding.token(row)
            guard token.expiresAt > now else {
                throw AttestationRefusal(
                    .tokenExpired,
                    "the enrollment token expired at \(token.expiresAt); create a new one with `posture-collector token create`"
                )
            }
            // The conditional update is the race's referee: of two enrollments, one changes the row.
            try db.execute(
                sql:
                    "UPDATE tokens SET used_at = ?, uses = uses + 1 WHERE id = ? AND (reusable = 1 OR used_at IS NULL)",
                arguments: [now.timeIntervalSince1970, token.id])
            guard db.changesCount == 1 else {
                throw AttestationRefusal(
                    .tokenUsed,
                    "the one-time enrollment token was already used; create another with `posture-collector token create`"
                )
            }
            let existing = try String.fetchAll(
                db, sql: "SELECT id FROM devices WHERE machine_id = ? AND status = 'active'",
                arguments: [enrollment.device.machineID])
            if !existing.isEmpty {
                guard token.allowReenroll else {
                    throw AttestationRefusal(
                        .machineAlreadyEnrolled,
                        "machine-id \(enrollment.device.machineID) is already enrolled as device \(existing.joined(separator: ", ")); revoke it (`posture-collector devices revoke ID --reason WHY`) or create a token with --allow-reenroll"
                    )
                }
                try db.execute(
                    sql:
                        "UPDATE devices SET status = 'replaced', revoked_at = ? WHERE machine_id = ? AND status = 'active'",
                    arguments: [now.timeIntervalSince1970, enrollment.device.machineID])
            }
            var labels = token.labels
            labels.merge(enrollment.device.labels) { _, new in new }
            let device = enrollment.device
            try db.execute(
                sql: """
                    INSERT INTO devices (id, machine_id, hostname, labels, status, enrolled_at, last_sequence, token_id, key_thumbprint)
                    VALUES (?, ?, ?, ?, 'active', ?, 0, ?, ?)
                    """,
                arguments: [
                    device.id, device.machineID, device.hostname, try StoreCoding.json(labels),
                    device.enrolledAt.timeIntervalSince1970, token.id, device.keyThumbprint,
                ])
            try Self.insertCertificate(enrollment.certificate, db: db)
            try Self.insertNonce(enrollment.nonce, deviceID: device.id, db: db)
        }
    }

    public func device(_ id: String) async throws -> DeviceRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM devices WHERE id = ?", arguments: [id]).map(StoreCoding.device)
        }
    }

    public func deviceView(_ id: String) async throws -> DeviceView? {
        try await pool.read { db in try Self.views(db, where: "WHERE d.id = ?", arguments: [id]).first }
    }

    public func devices() async throws -> [DeviceView] {
        try await pool.read { db in try Self.views(db, where: "", arguments: []) }
    }

    private static func views(_ db: Database, where clause: String, arguments: StatementArguments) throws
        -> [DeviceView]
    {
        try Row.fetchAll(
            db,
            sql: """
                SELECT d.*, s.issued_at AS s_issued_at, s.received_at AS s_received_at, s.delivery AS s_delivery,
                       s.payload AS s_payload,
                       (SELECT COUNT(*) FROM attestations a WHERE a.device_id = d.id) AS attestation_count
                FROM devices d LEFT JOIN device_state s ON s.device_id = d.id \(clause)
                ORDER BY d.enrolled_at
                """, arguments: arguments
        ).map { row in
            DeviceView(
                device: try StoreCoding.device(row), attestations: row["attestation_count"],
                lastReceivedAt: (row["s_received_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
                lastIssuedAt: (row["s_issued_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
                lastDelivery: row["s_delivery"], latestPayload: row["s_payload"])
        }
    }

    public func revoke(deviceID: String, now: Date) async throws -> Bool {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE devices SET status = 'revoked', revoked_at = ? WHERE id = ? AND status = 'active'",
                arguments: [now.timeIntervalSince1970, deviceID])
            return db.changesCount == 1
        }
    }

    public func isDeviceActive(_ id: String) async throws -> Bool {
        try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT status FROM devices WHERE id = ?", arguments: [id]) == "active"
        }
    }

    public func insertCertificate(_ certificate: CertificateRecord) async throws {
        try await pool.write { db in try Self.insertCertificate(certificate, db: db) }
    }

    public func issueNonce(_ nonce: IssuedNonce, deviceID: String) async throws {
        try await pool.write { db in try Self.insertNonce(nonce, deviceID: deviceID, db: db) }
    }

    public func accept(_ batch: [PendingAttestation], policy: FreshnessPolicy) async throws
        -> [Result<AttestationReceipt, AttestationRefusal>]
    {
        try await pool.write { db in
            try batch.map { pending in
                do {
                    return .success(try AttestationAcceptance.accept(pending, policy: policy, db: db))
                } catch let refusal as AttestationRefusal {
                    return .failure(refusal)
                }
            }
        }
    }

    public func attestations(deviceID: String, limit: Int) async throws -> [StoredAttestation] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM attestations WHERE device_id = ? ORDER BY id DESC LIMIT ?",
                arguments: [deviceID, limit]
            ).map { row in
                StoredAttestation(
                    deviceID: row["device_id"], sequence: UInt64(clamping: row["sequence"] as Int64),
                    issuedAt: Date(timeIntervalSince1970: row["issued_at"]),
                    receivedAt: Date(timeIntervalSince1970: row["received_at"]), delivery: row["delivery"],
                    jws: row["jws"])
            }
        }
    }

    public func certificates(deviceID: String) async throws -> [CertificateRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM certificates WHERE device_id = ? ORDER BY not_before", arguments: [deviceID]
            )
            .map { row in
                CertificateRecord(
                    serial: row["serial"], deviceID: row["device_id"],
                    notBefore: Date(timeIntervalSince1970: row["not_before"]),
                    notAfter: Date(timeIntervalSince1970: row["not_after"]), pem: row["pem"])
            }
        }
    }

    public func deviceID(certificateFingerprint: String) async throws -> String? {
        try await pool.read { db in
            try String.fetchOne(
                db, sql: "SELECT device_id FROM certificates WHERE fingerprint = ?", arguments: [certificateFingerprint]
            )
        }
    }

    public func recordSecurityEvents(_ events: [SecurityEvent]) async throws {
        guard !events.isEmpty else { return }
        try await pool.write { db in
            for event in events {
                try db.execute(
                    sql: "INSERT INTO security_events (at, device_id, code, message, peer) VALUES (?, ?, ?, ?, ?)",
                    arguments: [event.at.timeIntervalSince1970, event.deviceID, event.code, event.message, event.peer])
                if event.code.hasPrefix("enforcement.") {
                    try AuditTrail.append(.enforcement, sourceID: db.lastInsertedRowID, db: db)
                }
            }
        }
    }

    public func verifyAuditTrail() async throws -> AuditVerification {
        try await pool.read { db in try AuditTrail.verify(db) }
    }

    public func securityEvents(limit: Int) async throws -> [SecurityEvent] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM security_events ORDER BY id DESC LIMIT ?", arguments: [limit]).map
            { row in
                SecurityEvent(
                    at: Date(timeIntervalSince1970: row["at"]), deviceID: row["device_id"], code: row["code"],
                    message: row["message"], peer: row["peer"])
            }
        }
    }

    static func insertCertificate(_ certificate: CertificateRecord, db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO certificates (serial, device_id, not_before, not_after, pem, fingerprint)
                VALUES (?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                certificate.serial, certificate.deviceID, certificate.notBefore.timeIntervalSince1970,
                certificate.notAfter.timeIntervalSince1970, certificate.pem,
                CertificateFingerprint.sha256(pem: certificate.pem),
            ])
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

    static func insertNonce(_ nonce: IssuedNonce, deviceID: String, db: Database) throws {
        try StoreSQL.run(
            db, sql: "UPDATE nonces SET superseded_at = ? WHERE device_id = ? AND superseded_at IS NULL",
            arguments: [nonce.issuedAt.timeIntervalSince1970, deviceID])
        try StoreSQL.run(
            db, sql: "INSERT INTO nonces (value, device_id, issued_at, expires_at) VALUES (?, ?, ?, ?)",
            arguments: [
                nonce.value, deviceID, nonce.issuedAt.timeIntervalSince1970, nonce.expiresAt.timeIntervalSince1970,
            ])
    }

    /// Writes and commits one row: fails when the store cannot take a write (full disk, read-only, locked).
    public func checkWritable(now: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO store_health (id, checked_at) VALUES (1, ?)",
                arguments: [now.timeIntervalSince1970])
        }
    }

    /// A consistent copy of the whole store at `path` (SQLite's VACUUM INTO: one read transaction, so a
    /// snapshot while others write, compacted). `path` must not exist.
    public func snapshot(to path: String) async throws {
        try await pool.writeWithoutTransaction { db in
            try db.execute(sql: "VACUUM INTO ?", arguments: [path])
        }
    }
}
