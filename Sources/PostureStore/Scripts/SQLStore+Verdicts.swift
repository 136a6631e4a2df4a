import PostureModel
import PostureVerdict

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension SQLStore: VerdictStore {
    public func latestReports() async throws -> [LatestReport] {
        // Read in one transaction, decoded after it on every core: decoding is most of a start.
        let rows = try await read { db in
            var parts: [String: Data] = [:]
            return try db.rows(
                """
                SELECT s.device_id, s.issued_at, s.payload FROM device_state s
                JOIN devices d ON d.id = s.device_id WHERE d.status = 'active'
                """
            ).map { row in
                (
                    deviceID: try row.text("device_id"), issuedAt: try row.date("issued_at"),
                    payload: try LatestPayload.prepare(try row.text("payload"), db, parts: &parts)
                )
            }
        }
        let decoded = LatestPayload.decodeConcurrently(rows.map(\.payload))
        return zip(rows, decoded).compactMap { row, attestation in
            attestation.map { LatestReport(deviceID: row.deviceID, issuedAt: row.issuedAt, attestation: $0) }
        }
    }

    public func activeDevices() async throws -> [DeviceRecord] {
        try await read { db in
            try db.rows("SELECT * FROM devices WHERE status = 'active' ORDER BY enrolled_at").map {
                try StoreCoding.device($0)
            }
        }
    }

    public func signals(since: Date) async throws -> [SignalRow] {
        try await signals(after: since, through: .distantFuture)
    }

    public func signals(after start: Date, through end: Date) async throws -> [SignalRow] {
        try await read { db in
            try db.rows(
                """
                SELECT device_id, issued_at, journal_counts FROM attestations
                WHERE issued_at > ? AND issued_at <= ? AND journal_counts IS NOT NULL
                """,
                [start, end]
            ).map { row in
                SignalRow(
                    deviceID: try row.text("device_id"), issuedAt: try row.date("issued_at"),
                    counts: try row.text("journal_counts"))
            }
        }
    }

    public func verdicts() async throws -> [StoredVerdict] {
        try await read { db in
            try db.rows("SELECT * FROM verdicts").map { row in
                StoredVerdict(
                    deviceID: try row.text("device_id"), status: try row.text("status"),
                    version: try row.text("version"),
                    changedAt: try row.date("changed_at"), verdict: try row.text("verdict"))
            }
        }
    }

    public func saveVerdict(
        _ verdict: StoredVerdict, change: VerdictChange?, outbox: [OutboxEntry], expected: VerdictPrecondition
    ) async throws -> Bool {
        try await write { db in
            try Self.save(VerdictSave(verdict, change: change, outbox: outbox, expected: expected), db)
        }
    }

    public func saveVerdicts(_ saves: [VerdictSave]) async throws -> [Bool] {
        try await write { db in try saves.map { try Self.save($0, db) } }
    }

    private static func save(_ save: VerdictSave, _ db: any SQLExecutor) throws -> Bool {
        let (verdict, change, outbox, expected) = (save.verdict, save.change, save.outbox, save.expected)
        let previous = try db.row(
            "SELECT status, status_since, version FROM verdicts WHERE device_id = ?" + db.dialect.forUpdate,
            [verdict.deviceID])
        if case .version(let version) = expected, try previous?.text("version") != version { return false }
        // Since when the device has had this status: kept while the status stays, else now.
        let since: Date =
            if let previous, try previous.text("status") == verdict.status,
                let kept = try previous.optionalDate("status_since")
            {
                kept
            } else {
                verdict.changedAt
            }
        try db.execute(
            """
            INSERT INTO verdicts (device_id, status, version, changed_at, verdict, status_since)
            VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (device_id) DO UPDATE SET status = excluded.status, version = excluded.version,
                changed_at = excluded.changed_at, verdict = excluded.verdict, status_since = excluded.status_since
            """,
            [verdict.deviceID, verdict.status, verdict.version, verdict.changedAt, verdict.verdict, since])
        try FleetIndex.verdictSaved(
            verdict.deviceID, status: verdict.status, since: since, failing: verdict.failingRules, db)
        if let change {
            let id = try db.insert(
                """
                INSERT INTO verdict_changes (device_id, at, previous_status, status, cause, verdict)
                VALUES (?, ?, ?, ?, ?, ?)
                """,
                [change.deviceID, change.at, change.previousStatus, change.status, change.cause, change.verdict])
            try AuditTrail.append(.verdictChange, sourceID: id, db)
            try FleetIndex.verdictChangeRecorded(change, db)
        }
        try Self.insertOutbox(outbox, db)
        try db.notify(.device(verdict.deviceID))
        return true
    }

    public func latestReport(deviceID: String) async throws -> LatestReport? {
        try await read { db in
            var parts: [String: Data] = [:]
            guard
                let row = try db.row(
                    "SELECT device_id, issued_at, payload FROM device_state WHERE device_id = ?", [deviceID]),
                let attestation = try LatestPayload.attestation(try row.text("payload"), db, parts: &parts)
            else { return nil }
            return LatestReport(
                deviceID: try row.text("device_id"), issuedAt: try row.date("issued_at"), attestation: attestation)
        }
    }

    public func storedVerdict(deviceID: String) async throws -> StoredVerdict? {
        try await read { db in
            try db.row("SELECT * FROM verdicts WHERE device_id = ?", [deviceID]).map { row in
                StoredVerdict(
                    deviceID: try row.text("device_id"), status: try row.text("status"),
                    version: try row.text("version"),
                    changedAt: try row.date("changed_at"), verdict: try row.text("verdict"))
            }
        }
    }

    public func verdictChanges(deviceID: String?, limit: Int) async throws -> [VerdictChange] {
        try await read { db in
            let filter = deviceID == nil ? "" : "WHERE device_id = ?"
            let arguments: [any SQLBindable] = deviceID.map { [$0, limit] } ?? [limit]
            return try db.rows("SELECT * FROM verdict_changes \(filter) ORDER BY id DESC LIMIT ?", arguments).map {
                row in
                VerdictChange(
                    deviceID: try row.text("device_id"), at: try row.date("at"),
                    previousStatus: try row.optionalText("previous_status"), status: try row.text("status"),
                    cause: try row.text("cause"), verdict: try row.text("verdict"))
            }
        }
    }

    public func setQuarantine(deviceID: String, quarantine: Bool, actor: String, reason: String, at: Date)
        async throws -> Bool
    {
        try await write { db in
            // Only an active device can be quarantined (a revoked or replaced one has nothing left to
            // quarantine: its machine, if any, is another device now); any can be released.
            guard
                try db.row(
                    "SELECT 1 AS known FROM devices WHERE id = ? AND (status = 'active' OR ? = 0)"
                        + db.dialect.forUpdate, [deviceID, quarantine]) != nil
            else { return false }
            let changed =
                quarantine
                ? try db.execute(
                    "INSERT INTO quarantines (device_id, actor, reason, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    [deviceID, actor, reason, at])
                : try db.execute("DELETE FROM quarantines WHERE device_id = ?", [deviceID])
            guard changed == 1 else { return false }
            try FleetIndex.quarantineChanged(deviceID, quarantined: quarantine, db)
            try Self.insertAction(
                OperatorAction(
                    at: at, actor: actor, action: quarantine ? "quarantine" : "release", deviceID: deviceID,
                    target: nil, reason: reason), db)
            return true
        }
    }

    public func acceptBoot(deviceID: String, baseline: [String], actor: String, reason: String, at: Date)
        async throws -> Bool
    {
        try await write { db in
            guard
                let row = try db.row(
                    "SELECT tpm FROM devices WHERE id = ? AND status = 'active'" + db.dialect.forUpdate, [deviceID]),
                let text = try row.optionalText("tpm"),
                var tpm = try? JSONDecoder().decode(TPMIdentity.self, from: Data(text.utf8))
            else { return false }
            tpm.bootBaseline = baseline
            try db.execute("UPDATE devices SET tpm = ? WHERE id = ?", [try StoreCoding.json(tpm), deviceID])
            try Self.insertAction(
                OperatorAction(
                    at: at, actor: actor, action: "accept-boot", deviceID: deviceID,
                    target: baseline.joined(separator: ","), reason: reason), db)
            return true
        }
    }

    public func quarantines() async throws -> [String: Quarantine] {
        try await read { db in
            var result: [String: Quarantine] = [:]
            for row in try db.rows("SELECT * FROM quarantines") {
                result[try row.text("device_id")] = Quarantine(
                    by: try row.text("actor"), reason: try row.text("reason"), at: try row.date("at"))
            }
            return result
        }
    }

    public func insertWaiver(_ waiver: Waiver) async throws {
        try await write { db in
            try db.execute(
                """
                INSERT INTO waivers (id, rule, device_id, label, reason, actor, created_at, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    waiver.id, waiver.rule, waiver.deviceID, try waiver.label.map(StoreCoding.json), waiver.reason,
                    waiver.by, waiver.createdAt, waiver.expiresAt,
                ])
            let scope = try waiver.deviceID.map { "device \($0)" } ?? "label \(StoreCoding.json(waiver.label ?? [:]))"
            try Self.insertAction(
                OperatorAction(
                    at: waiver.createdAt, actor: waiver.by, action: "waiver", deviceID: waiver.deviceID,
                    target:
                        "\(waiver.id): rule \(waiver.rule) on \(scope) until \(waiver.expiresAt.formatted(.iso8601))",
                    reason: waiver.reason), db)
        }
    }

    public func revokeWaiver(id: String, actor: String, reason: String, at: Date) async throws -> Bool {
        try await write { db in
            guard
                try db.execute("UPDATE waivers SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", [at, id]) == 1
            else { return false }
            let deviceID = try db.row("SELECT device_id FROM waivers WHERE id = ?", [id])?.optionalText("device_id")
            try Self.insertAction(
                OperatorAction(
                    at: at, actor: actor, action: "waiver-revoke", deviceID: deviceID, target: id, reason: reason), db)
            return true
        }
    }

    public func waivers() async throws -> [Waiver] {
        try await read { db in
            try db.rows("SELECT * FROM waivers ORDER BY created_at").map { row in
                Waiver(
                    id: try row.text("id"), rule: try row.text("rule"), deviceID: try row.optionalText("device_id"),
                    label: try row.optionalText("label").map(StoreCoding.labels), reason: try row.text("reason"),
                    by: try row.text("actor"), createdAt: try row.date("created_at"),
                    expiresAt: try row.date("expires_at"), revokedAt: try row.optionalDate("revoked_at"))
            }
        }
    }
}

extension SQLStore: OperatorStore {
    public func recordOperatorAction(_ action: OperatorAction) async throws {
        try await write { db in try Self.insertAction(action, db) }
    }

    public func operatorActions(after id: Int64, limit: Int) async throws -> [OperatorAction] {
        try await read { db in
            try db.rows("SELECT * FROM operator_actions WHERE id > ? ORDER BY id LIMIT ?", [id, limit])
                .map(StoreCoding.action)
        }
    }

    public func lastOperatorActionID() async throws -> Int64 {
        try await read { db in
            try db.row("SELECT COALESCE(MAX(id), 0) AS last FROM operator_actions")?.int64("last") ?? 0
        }
    }

    public func verifyAuditTrail() async throws -> AuditVerification {
        try await read { db in try AuditTrail.verify(db) }
    }

    static func insertAction(_ action: OperatorAction, _ db: any SQLExecutor) throws {
        let id = try db.insert(
            "INSERT INTO operator_actions (at, actor, action, device_id, target, reason) VALUES (?, ?, ?, ?, ?, ?)",
            [action.at, action.actor, action.action, action.deviceID, action.target, action.reason])
        try AuditTrail.append(.operatorAction, sourceID: id, db)
        try db.notify(.action)
    }
}

extension SQLStore {
    public func recordVerdictPull(deviceID: String, at: Date) async throws {
        try await write { db in
            try db.execute(
                """
                INSERT INTO verdict_pulls (device_id, pulled_at) VALUES (?, ?)
                ON CONFLICT (device_id) DO UPDATE SET pulled_at = excluded.pulled_at
                WHERE excluded.pulled_at > verdict_pulls.pulled_at
                """, [deviceID, at])
        }
    }

    public func verdictPulls(since: Date, deviceID: String?) async throws -> [String: Date] {
        try await read { db in
            let rows =
                try deviceID.map {
                    try db.rows(
                        "SELECT device_id, pulled_at FROM verdict_pulls WHERE device_id = ? AND pulled_at >= ?",
                        [$0, since])
                }
                ?? db.rows("SELECT device_id, pulled_at FROM verdict_pulls WHERE pulled_at >= ?", [since])
            var pulls: [String: Date] = [:]
            for row in rows { pulls[try row.text("device_id")] = try row.date("pulled_at") }
            return pulls
        }
    }
}
