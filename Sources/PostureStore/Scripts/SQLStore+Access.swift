#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension SQLStore: AccessStore {
    public func recordGrant(_ grant: AccessGrantRecord, event: AccessEvent) async throws -> Int64 {
        try await write { db in
            let id = try db.insert(
                """
                INSERT INTO access_grants (device_id, user_name, grant_name, kind, status, requested_at, valid_from,
                    valid_until, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    grant.deviceID, grant.user, grant.grant, grant.kind, grant.status, grant.requestedAt,
                    grant.validFrom, grant.validUntil, grant.detail,
                ])
            var event = event
            event.grantID = id
            try Self.insertAccessEvent(event, db)
            return id
        }
    }

    public func recordAccessEvent(_ event: AccessEvent) async throws {
        try await write { db in try Self.insertAccessEvent(event, db) }
    }

    static func insertAccessEvent(_ event: AccessEvent, _ db: any SQLExecutor) throws {
        let id = try db.insert(
            """
            INSERT INTO access_events (at, device_id, user_name, grant_name, grant_id, event, actor, detail)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [event.at, event.deviceID, event.user, event.grant, event.grantID, event.event, event.actor, event.detail])
        try AuditTrail.append(.access, sourceID: id, db)
    }

    public func accessGrants(deviceID: String?, user: String?, limit: Int) async throws -> [AccessGrantRecord] {
        try await read { db in
            let (filter, arguments) = Self.accessFilter(deviceID: deviceID, user: user)
            return try db.rows(
                "SELECT * FROM access_grants \(filter) ORDER BY id DESC LIMIT ?", arguments + [limit]
            ).map(
                Self.grantRecord)
        }
    }

    /// `WHERE` on device and user, each when given.
    static func accessFilter(deviceID: String?, user: String?) -> (String, [any SQLBindable]) {
        var conditions: [String] = []
        var arguments: [any SQLBindable] = []
        if let deviceID {
            conditions.append("device_id = ?")
            arguments.append(deviceID)
        }
        if let user {
            conditions.append("user_name = ?")
            arguments.append(user)
        }
        return (conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "), arguments)
    }

    public func accessGrant(id: Int64) async throws -> AccessGrantRecord? {
        try await read { db in try db.row("SELECT * FROM access_grants WHERE id = ?", [id]).map(Self.grantRecord) }
    }

    public func transitionGrant(
        id: Int64, from: String, to: String, validFrom: Date?, validUntil: Date?, event: AccessEvent
    ) async throws -> Bool {
        try await write { db in
            let changed = try db.execute(
                """
                UPDATE access_grants SET status = ?, valid_from = COALESCE(?, valid_from),
                    valid_until = COALESCE(?, valid_until) WHERE id = ? AND status = ?
                """, [to, validFrom, validUntil, id, from])
            guard changed > 0 else { return false }
            var event = event
            event.grantID = id
            try Self.insertAccessEvent(event, db)
            return true
        }
    }

    static func grantRecord(_ row: SQLRow) throws -> AccessGrantRecord {
        AccessGrantRecord(
            id: try row.int64("id"), deviceID: try row.text("device_id"), user: try row.text("user_name"),
            grant: try row.text("grant_name"), kind: try row.text("kind"), status: try row.text("status"),
            requestedAt: try row.date("requested_at"), validFrom: try row.optionalDate("valid_from"),
            validUntil: try row.optionalDate("valid_until"), detail: try row.text("detail"))
    }

    public func accessEvents(deviceID: String?, user: String?, limit: Int) async throws -> [AccessEvent] {
        try await read { db in
            let (filter, arguments) = Self.accessFilter(deviceID: deviceID, user: user)
            return try db.rows(
                "SELECT * FROM access_events \(filter) ORDER BY id DESC LIMIT ?", arguments + [limit]
            ).map { row in
                AccessEvent(
                    at: try row.date("at"), deviceID: try row.text("device_id"), user: try row.text("user_name"),
                    grant: try row.text("grant_name"), grantID: try row.optionalInt64("grant_id"),
                    event: try row.text("event"), actor: try row.text("actor"), detail: try row.text("detail"))
            }
        }
    }

    public func revokeGrant(id: Int64, actor: String, reason: String, at: Date) async throws -> Bool {
        try await write { db in
            guard
                let row = try db.row(
                    "SELECT device_id, user_name, grant_name FROM access_grants WHERE id = ? AND status = 'active'"
                        + db.dialect.forUpdate, [id])
            else { return false }
            try db.execute("UPDATE access_grants SET status = 'revoked' WHERE id = ?", [id])
            try Self.insertAccessEvent(
                AccessEvent(
                    at: at, deviceID: try row.text("device_id"), user: try row.text("user_name"),
                    grant: try row.text("grant_name"), grantID: id, event: "grant-revoked", actor: actor,
                    detail: reason), db)
            return true
        }
    }

    public func revokedSSHSerials(now: Date) async throws -> [Int64] {
        try await read { db in
            try db.rows(
                """
                SELECT g.id FROM access_grants g LEFT JOIN verdicts v ON v.device_id = g.device_id
                WHERE g.kind = 'ssh' AND g.valid_until > ?
                    AND (g.status <> 'active' OR v.status IS NULL OR v.status <> 'compliant')
                ORDER BY g.id
                """, [now]
            ).map { try $0.int64("id") }
        }
    }
}
