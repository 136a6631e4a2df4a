import GRDB
import PostureModel
import PostureVerdict

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension SQLiteStore {
    public func latestReports() async throws -> [LatestReport] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT s.device_id, s.issued_at, s.payload FROM device_state s
                    JOIN devices d ON d.id = s.device_id WHERE d.status = 'active'
                    """
            ).map { row in
                LatestReport(
                    deviceID: row["device_id"], issuedAt: Date(timeIntervalSince1970: row["issued_at"]),
                    payload: row["payload"])
            }
        }
    }

    public func signals(since: Date) async throws -> [SignalRow] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT device_id, issued_at, journal_counts FROM attestations
                    WHERE issued_at > ? AND journal_counts IS NOT NULL
                    """, arguments: [since.timeIntervalSince1970]
            ).map { row in
                SignalRow(
                    deviceID: row["device_id"], issuedAt: Date(timeIntervalSince1970: row["issued_at"]),
                    counts: row["journal_counts"])
            }
        }
    }

    public func verdicts() async throws -> [StoredVerdict] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM verdicts").map { row in
                StoredVerdict(
                    deviceID: row["device_id"], status: row["status"], version: row["version"],
                    changedAt: Date(timeIntervalSince1970: row["changed_at"]), verdict: row["verdict"])
            }
        }
    }

    public func saveVerdict(_ verdict: StoredVerdict, change: VerdictChange?, outbox: [OutboxEntry]) async throws {
        try await pool.write { db in
            try StoreSQL.run(
                db,
                sql: """
                    INSERT INTO verdicts (device_id, status, version, changed_at, verdict, status_since)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (device_id) DO UPDATE SET status = excluded.status, version = excluded.version,
                        changed_at = excluded.changed_at, verdict = excluded.verdict,
                        status_since = CASE WHEN verdicts.status = excluded.status THEN verdicts.status_since
                            ELSE excluded.status_since END
                    """,
                arguments: [
                    verdict.deviceID, verdict.status, verdict.version, verdict.changedAt.timeIntervalSince1970,
                    verdict.verdict, verdict.changedAt.timeIntervalSince1970,
                ])
            if let change {
                try StoreSQL.run(
                    db,
                    sql: """
                        INSERT INTO verdict_changes (device_id, at, previous_status, status, cause, verdict)
                        VALUES (?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        change.deviceID, change.at.timeIntervalSince1970, change.previousStatus, change.status,
                        change.cause, change.verdict,
                    ])
                try AuditTrail.append(.verdictChange, sourceID: db.lastInsertedRowID, db: db)
            }
            try Self.insertOutbox(outbox, db: db)
        }
    }

    public func verdictChanges(deviceID: String?, limit: Int) async throws -> [VerdictChange] {
        try await pool.read { db in
            let filter = deviceID == nil ? "" : "WHERE device_id = ?"
            let arguments: StatementArguments = deviceID.map { [$0, limit] } ?? [limit]
            return try Row.fetchAll(
                db, sql: "SELECT * FROM verdict_changes \(filter) ORDER BY id DESC LIMIT ?", arguments: arguments
            ).map { row in
                VerdictChange(
                    deviceID: row["device_id"], at: Date(timeIntervalSince1970: row["at"]),
                    previousStatus: row["previous_status"], status: row["status"], cause: row["cause"],
                    verdict: row["verdict"])
            }
        }
    }

    public func setQuarantine(deviceID: String, quarantine: Bool, actor: String, reason: String, at: Date)
        async throws -> Bool
    {
        try await pool.write { db in
            // Only an active device can be quarantined (a revoked or replaced one has nothing left to
            // quarantine: its machine, if any, is another device now); any can be released.
            guard
                try Bool.fetchOne(
                    db, sql: "SELECT 1 FROM devices WHERE id = ? AND (status = 'active' OR ? = 0)",
                    arguments: [deviceID, quarantine]) != nil
            else { return false }
            if quarantine {
                try db.execute(
                    sql:
                        "INSERT INTO quarantines (device_id, actor, reason, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    arguments: [deviceID, actor, reason, at.timeIntervalSince1970])
            } else {
                try db.execute(sql: "DELETE FROM quarantines WHERE device_id = ?", arguments: [deviceID])
            }
            guard db.changesCount == 1 else { return false }
            try Self.insertAction(
                OperatorAction(
                    at: at, actor: actor, action: quarantine ? "quarantine" : "release", deviceID: deviceID,
                    target: nil,
                    reason: reason), db: db)
            return true
        }
    }

    public func quarantines() async throws -> [String: Quarantine] {
        try await pool.read { db in
            var result: [String: Quarantine] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT * FROM quarantines") {
                result[row["device_id"]] = Quarantine(
                    by: row["actor"], reason: row["reason"], at: Date(timeIntervalSince1970: row["at"]))
            }
            return result
        }
    }

    public func insertWaiver(_ waiver: Waiver) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO waivers (id, rule, device_id, label, reason, actor, created_at, expires_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    waiver.id, waiver.rule, waiver.deviceID, try waiver.label.map(StoreCoding.json), waiver.reason,
                    waiver.by, waiver.createdAt.timeIntervalSince1970, waiver.expiresAt.timeIntervalSince1970,
                ])
            let scope = try waiver.deviceID.map { "device \($0)" } ?? "label \(StoreCoding.json(waiver.label ?? [:]))"
            try Self.insertAction(
                OperatorAction(
                    at: waiver.createdAt, actor: waiver.by, action: "waiver", deviceID: waiver.deviceID,
                    target:
                        "\(waiver.id): rule \(waiver.rule) on \(scope) until \(waiver.expiresAt.formatted(.iso8601))",
                    reason: waiver.reason), db: db)
        }
    }

    public func revokeWaiver(id: String, actor: String, reason: String, at: Date) async throws -> Bool {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE waivers SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                arguments: [at.timeIntervalSince1970, id])
            guard db.changesCount == 1 else { return false }
            let deviceID = try String.fetchOne(db, sql: "SELECT device_id FROM waivers WHERE id = ?", arguments: [id])
            try Self.insertAction(
                OperatorAction(
                    at: at, actor: actor, action: "waiver-revoke", deviceID: deviceID, target: id, reason: reason),
                db: db)
            return true
        }
    }

    public func waivers() async throws -> [Waiver] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM waivers ORDER BY created_at").map { row in
                Waiver(
                    id: row["id"], rule: row["rule"], deviceID: row["device_id"],
                    label: try (row["label"] as String?).map(StoreCoding.labels), reason: row["reason"],
                    by: row["actor"], createdAt: Date(timeIntervalSince1970: row["created_at"]),
                    expiresAt: Date(timeIntervalSince1970: row["expires_at"]),
                    revokedAt: (row["revoked_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
            }
        }
    }

    public func recordOperatorAction(_ action: OperatorAction) async throws {
        try await pool.write { db in try Self.insertAction(action, db: db) }
    }

    public func operatorActions(after id: Int64, limit: Int) async throws -> [OperatorAction] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM operator_actions WHERE id > ? ORDER BY id LIMIT ?", arguments: [id, limit]
            ).map { row in
                OperatorAction(
                    id: row["id"], at: Date(timeIntervalSince1970: row["at"]), actor: row["actor"],
                    action: row["action"], deviceID: row["device_id"], target: row["target"], reason: row["reason"])
            }
        }
    }

    public func lastOperatorActionID() async throws -> Int64 {
        try await pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(id), 0) FROM operator_actions") ?? 0
        }
    }

    static func insertAction(_ action: OperatorAction, db: Database) throws {
        try db.execute(
            sql:
                "INSERT INTO operator_actions (at, actor, action, device_id, target, reason) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [
                action.at.timeIntervalSince1970, action.actor, action.action, action.deviceID, action.target,
                action.reason,
            ])
        try AuditTrail.append(.operatorAction, sourceID: db.lastInsertedRowID, db: db)
    }
}
