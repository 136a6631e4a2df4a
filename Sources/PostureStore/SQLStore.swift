import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Every store operation, written once as a script over `SQLExecutor` and run in one transaction of the
/// backend: SQLite (`PostureStoreSQLite`) or PostgreSQL (`PostureStorePostgres`). The rules that decide
/// are pure (`AttestationAcceptance`, `EnrollmentDecision`, `FleetEntry`); the scripts read, lock and write.
open class SQLStore: @unchecked Sendable {
    public let backend: any StoreBackend

    public init(backend: any StoreBackend) { self.backend = backend }

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLExecutor) throws -> T) async throws -> T {
        try await backend.read(body)
    }

    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLExecutor) throws -> T) async throws -> T {
        try await backend.write(body)
    }

    /// Deletes attestations issued before `before` but each device's newest, `batch` at a time; returns
    /// how many, and the oldest time an attestation may still have been received (what the report parts
    /// they name must outlive). PostgreSQL drops whole days instead.
    open func pruneAttestations(before: Date, batch: Int) async throws -> (deleted: Int, keptFrom: Date) {
        let deleted = try await deleteInBatches(
            from: "attestations", key: "id", position: "issued_at", before: before,
            keeping: "sequence = (SELECT MAX(sequence) FROM attestations b WHERE b.device_id = t.device_id)",
            batch: batch)
        return (deleted, before)
    }
}

extension SQLStore: EnrollmentStore {
    public func insertToken(_ token: TokenRecord, recording action: OperatorAction?) async throws {
        try await write { db in
            if let action { try Self.insertAction(action, db) }
            try db.execute(
                """
                INSERT INTO tokens (id, hash, reusable, allow_reenroll, labels, created_at, expires_at, uses)
                VALUES (?, ?, ?, ?, ?, ?, ?, 0)
                """,
                [
                    token.id, token.hash, token.reusable, token.allowReenroll, try StoreCoding.json(token.labels),
                    token.createdAt, token.expiresAt,
                ])
        }
    }

    public func tokens() async throws -> [TokenRecord] {
        try await read { db in try db.rows("SELECT * FROM tokens ORDER BY created_at").map(StoreCoding.token) }
    }

    public func enroll(_ enrollment: Enrollment, now: Date) async throws {
        try await write { db in
            let token = try db.row("SELECT * FROM tokens WHERE hash = ?", [enrollment.tokenHash]).map(StoreCoding.token)
            if let refusal = EnrollmentDecision.checkToken(token, now: now) { throw refusal }
            guard let token else { return }
            // The conditional update is the race's referee: of two enrollments, one changes the row.
            guard
                try db.execute(
                    "UPDATE tokens SET used_at = ?, uses = uses + 1 WHERE id = ? AND (reusable = 1 OR used_at IS NULL)",
                    [now, token.id]) == 1
            else { throw StoreRefusal.tokenUsed }
            // Two enrollments of one machine on two collectors: the second waits here for the first.
            try db.serialize(.enrollment)
            let device = enrollment.device
            let existing = try db.rows(
                "SELECT id FROM devices WHERE machine_id = ? AND status = 'active'" + db.dialect.forUpdate,
                [device.machineID]
            ).map { try $0.text("id") }
            if let refusal = EnrollmentDecision.checkMachine(device.machineID, activeDevices: existing, token: token) {
                throw refusal
            }
            for id in existing {
                try db.execute(
                    "UPDATE devices SET status = 'replaced', revoked_at = ? WHERE id = ? AND status = 'active'",
                    [now, id])
                try FleetIndex.deviceStateChanged(id, to: "replaced", db)
            }
            let labels = EnrollmentDecision.labels(token: token, device: device)
            try db.execute(
                """
                INSERT INTO devices (id, machine_id, hostname, labels, status, enrolled_at, last_sequence, token_id, key_thumbprint,
                    key_protection, tpm)
                VALUES (?, ?, ?, ?, 'active', ?, 0, ?, ?, ?, ?)
                """,
                [
                    device.id, device.machineID, device.hostname, try StoreCoding.json(labels), device.enrolledAt,
                    token.id, device.keyThumbprint, device.keyProtection.rawValue,
                    try device.tpm.map { SQLValue.text(try StoreCoding.json($0)) } ?? .null,
                ])
            var added = device
            added.status = .active
            try FleetIndex.deviceAdded(added, labels: labels, db)
            try Self.insertCertificate(enrollment.certificate, db)
            try Self.insertNonce(enrollment.nonce, deviceID: device.id, db)
            try db.notify(.device(device.id))
            for id in existing { try db.notify(.device(id)) }
        }
    }

    public func insertCertificate(_ certificate: CertificateRecord) async throws {
        try await write { db in try Self.insertCertificate(certificate, db) }
    }

    public func certificates(deviceID: String) async throws -> [CertificateRecord] {
        try await read { db in
            try db.rows("SELECT * FROM certificates WHERE device_id = ? ORDER BY not_before", [deviceID])
                .map(StoreCoding.certificate)
        }
    }

    public func deviceID(certificateFingerprint: String) async throws -> String? {
        try await read { db in
            try db.value("SELECT device_id FROM certificates WHERE fingerprint = ?", [certificateFingerprint])
                .flatMap { if case .text(let id) = $0 { id } else { nil } }
        }
    }

    public func isDeviceActive(_ id: String) async throws -> Bool {
        try await read { db in try db.value("SELECT status FROM devices WHERE id = ?", [id]) == .text("active") }
    }

    static func insertCertificate(_ certificate: CertificateRecord, _ db: any SQLExecutor) throws {
        try db.execute(
            "INSERT INTO certificates (serial, device_id, not_before, not_after, pem, fingerprint) VALUES (?, ?, ?, ?, ?, ?)",
            [
                certificate.serial, certificate.deviceID, certificate.notBefore, certificate.notAfter, certificate.pem,
                CertificateFingerprint.sha256(pem: certificate.pem),
            ])
    }

    static func insertNonce(_ nonce: IssuedNonce, deviceID: String, _ db: any SQLExecutor) throws {
        try db.execute(
            "UPDATE nonces SET superseded_at = ? WHERE device_id = ? AND superseded_at IS NULL",
            [nonce.issuedAt, deviceID])
        try db.execute(
            "INSERT INTO nonces (value, device_id, issued_at, expires_at) VALUES (?, ?, ?, ?)",
            [nonce.value, deviceID, nonce.issuedAt, nonce.expiresAt])
    }
}

extension SQLStore: DeviceStore {
    public func device(_ id: String) async throws -> DeviceRecord? {
        try await read { db in try db.row("SELECT * FROM devices WHERE id = ?", [id]).map(StoreCoding.device) }
    }

    public func deviceView(_ id: String) async throws -> DeviceView? {
        try await read { db in try Self.views(db, where: "WHERE d.id = ?", [id]).first }
    }

    public func devices() async throws -> [DeviceView] {
        try await read { db in try Self.views(db, where: "", []) }
    }

    private static func views(_ db: any SQLExecutor, where clause: String, _ arguments: [any SQLBindable]) throws
        -> [DeviceView]
    {
        var parts: [String: Data] = [:]
        return try db.rows(
            """
            SELECT d.*, s.issued_at AS s_issued_at, s.received_at AS s_received_at, s.delivery AS s_delivery,
                   s.payload AS s_payload,
                   (SELECT COUNT(*) FROM attestations a WHERE a.device_id = d.id) AS attestation_count
            FROM devices d LEFT JOIN device_state s ON s.device_id = d.id \(clause)
            ORDER BY d.enrolled_at
            """, arguments
        ).map { row in
            DeviceView(
                device: try StoreCoding.device(row), attestations: try row.int("attestation_count"),
                lastReceivedAt: try row.optionalDate("s_received_at"),
                lastIssuedAt: try row.optionalDate("s_issued_at"),
                lastDelivery: try row.optionalText("s_delivery"),
                latestPayload: try row.optionalText("s_payload").flatMap {
                    try LatestPayload.text($0, db, parts: &parts)
                })
        }
    }

    public func revoke(deviceID: String, now: Date) async throws -> Bool {
        try await write { db in try Self.revoke(deviceID, at: now, db) }
    }

    public func revoke(deviceID: String, actor: String, reason: String, at: Date) async throws -> Bool {
        try await write { db in
            guard try Self.revoke(deviceID, at: at, db) else { return false }
            try Self.insertAction(
                OperatorAction(at: at, actor: actor, action: "revoke", deviceID: deviceID, target: nil, reason: reason),
                db)
            return true
        }
    }

    private static func revoke(_ deviceID: String, at: Date, _ db: any SQLExecutor) throws -> Bool {
        guard
            try db.execute(
                "UPDATE devices SET status = 'revoked', revoked_at = ? WHERE id = ? AND status = 'active'",
                [at, deviceID]) == 1
        else { return false }
        try FleetIndex.deviceStateChanged(deviceID, to: "revoked", db)
        try db.notify(.device(deviceID))
        return true
    }
}
