import GRDB
import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// API tokens, Shared Signals streams and their durable outbox.
extension SQLiteStore {
    /// Refuses a name an active credential already has (ASCII case aside): the name is the actor in the
    /// audit trail, so two live credentials with one name would make "who did it" ambiguous.
    public func insertAPIToken(_ token: APITokenRecord, recording action: OperatorAction?) async throws {
        try await pool.write { db in
            let holder = try String.fetchOne(
                db,
                sql: """
                    SELECT id FROM api_tokens
                    WHERE name = ? COLLATE NOCASE AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)
                    """,
                arguments: [token.name, token.createdAt.timeIntervalSince1970])
            if let holder {
                throw AttestationRefusal(
                    .conflict,
                    "an active API credential is already named '\(token.name)' (id \(holder)); names are the actor in "
                        + "the audit trail, so choose another name or revoke it first "
                        + "(POST /v1/api-tokens/\(holder)/revoke, or posture-collector apitoken revoke \(holder))")
            }
            if let action { try Self.insertAction(action, db: db) }
            try db.execute(
                sql:
                    "INSERT INTO api_tokens (id, hash, name, scopes, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [
                    token.id, token.hash, token.name, token.scopes.joined(separator: " "),
                    token.createdAt.timeIntervalSince1970, token.expiresAt?.timeIntervalSince1970,
                ])
        }
    }

    public func apiToken(hash: String) async throws -> APITokenRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM api_tokens WHERE hash = ?", arguments: [hash]).map(Self.apiToken)
        }
    }

    public func apiTokens() async throws -> [APITokenRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM api_tokens ORDER BY created_at").map(Self.apiToken)
        }
    }

    public func revokeAPIToken(id: String, at: Date, recording action: OperatorAction?) async throws -> Bool {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                arguments: [at.timeIntervalSince1970, id])
            guard db.changesCount == 1 else { return false }
            if let action { try Self.insertAction(action, db: db) }
            return true
        }
    }

    static func apiToken(_ row: Row) -> APITokenRecord {
        APITokenRecord(
            id: row["id"], hash: row["hash"], name: row["name"],
            scopes: (row["scopes"] as String).split(separator: " ").map(String.init),
            createdAt: Date(timeIntervalSince1970: row["created_at"]),
            expiresAt: (row["expires_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
            revokedAt: (row["revoked_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
    }

    public func upsertStream(_ stream: StreamRecord) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO ssf_streams (id, audience, delivery_method, endpoint_url, authorization_header,
                        events_requested, algorithm, status, created_at, token_id)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET audience = excluded.audience,
                        delivery_method = excluded.delivery_method, endpoint_url = excluded.endpoint_url,
                        authorization_header = excluded.authorization_header,
                        events_requested = excluded.events_requested, algorithm = excluded.algorithm,
                        status = excluded.status
                    """,
                arguments: [
                    stream.id, stream.audience, stream.deliveryMethod, stream.endpointURL, stream.authorizationHeader,
                    stream.eventsRequested.joined(separator: " "), stream.algorithm, stream.status,
                    stream.createdAt.timeIntervalSince1970, stream.tokenID,
                ])
        }
    }

    public func streams() async throws -> [StreamRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM ssf_streams ORDER BY created_at").map { row in
                StreamRecord(
                    id: row["id"], audience: row["audience"], deliveryMethod: row["delivery_method"],
                    endpointURL: row["endpoint_url"], authorizationHeader: row["authorization_header"],
                    eventsRequested: (row["events_requested"] as String).split(separator: " ").map(String.init),
                    algorithm: row["algorithm"], status: row["status"],
                    createdAt: Date(timeIntervalSince1970: row["created_at"]), tokenID: row["token_id"])
            }
        }
    }

    public func outboxBacklog() async throws -> (pending: Int, oldest: Date?) {
        try await pool.read { db in
            let row = try Row.fetchOne(
                db,
                sql: "SELECT COUNT(*) AS pending, MIN(created_at) AS oldest FROM ssf_outbox WHERE delivered_at IS NULL")
            let oldest: Double? = row?["oldest"]
            return (row?["pending"] ?? 0, oldest.map { Date(timeIntervalSince1970: $0) })
        }
    }

    public func pendingOutbox(streamID: String, dueBy: Date?, limit: Int) async throws -> [OutboxEntry] {
        try await pool.read { db in
            let due = dueBy == nil ? "" : "AND next_attempt_at <= ?"
            var arguments: StatementArguments = [streamID]
            if let dueBy { arguments += [dueBy.timeIntervalSince1970] }
            arguments += [limit]
            return try Row.fetchAll(
                db,
                sql: "SELECT * FROM ssf_outbox WHERE stream_id = ? AND delivered_at IS NULL \(due) ORDER BY id LIMIT ?",
                arguments: arguments
            ).map { row in
                OutboxEntry(
                    id: row["id"], streamID: row["stream_id"], jti: row["jti"], setJWT: row["set_jwt"],
                    createdAt: Date(timeIntervalSince1970: row["created_at"]), attempts: row["attempts"],
                    nextAttemptAt: Date(timeIntervalSince1970: row["next_attempt_at"]),
                    deliveredAt: (row["delivered_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
            }
        }
    }

    public func markDelivered(streamID: String, jtis: [String], at: Date) async throws -> Int {
        guard !jtis.isEmpty else { return 0 }
        return try await pool.write { db in
            var changed = 0
            for jti in jtis {
                try db.execute(
                    sql: """
                        UPDATE ssf_outbox SET delivered_at = ?, attempts = attempts + 1
                        WHERE stream_id = ? AND jti = ? AND delivered_at IS NULL
                        """,
                    arguments: [at.timeIntervalSince1970, streamID, jti])
                changed += db.changesCount
            }
            return changed
        }
    }

    public func markRejected(id: Int64, error: String, at: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE ssf_outbox SET attempts = attempts + 1, last_error = ?, delivered_at = ? WHERE id = ?",
                arguments: ["rejected: " + String(error.prefix(490)), at.timeIntervalSince1970, id])
        }
    }

    public func markRejected(streamID: String, jti: String, error: String, at: Date) async throws -> Bool {
        try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE ssf_outbox SET attempts = attempts + 1, last_error = ?, delivered_at = ?
                    WHERE stream_id = ? AND jti = ? AND delivered_at IS NULL
                    """,
                arguments: ["rejected: " + String(error.prefix(490)), at.timeIntervalSince1970, streamID, jti])
            return db.changesCount > 0
        }
    }

    public func markFailed(id: Int64, error: String, nextAttemptAt: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE ssf_outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
                arguments: [String(error.prefix(500)), nextAttemptAt.timeIntervalSince1970, id])
        }
    }

    public func insertOutbox(_ entries: [OutboxEntry]) async throws {
        try await pool.write { db in try Self.insertOutbox(entries, db: db) }
    }

    static func insertOutbox(_ entries: [OutboxEntry], db: Database) throws {
        for entry in entries {
            try StoreSQL.run(
                db,
                sql: """
                    INSERT INTO ssf_outbox (stream_id, jti, set_jwt, created_at, attempts, next_attempt_at)
                    VALUES (?, ?, ?, ?, 0, ?)
                    """,
                arguments: [
                    entry.streamID, entry.jti, entry.setJWT, entry.createdAt.timeIntervalSince1970,
                    entry.nextAttemptAt.timeIntervalSince1970,
                ])
        }
    }
}
