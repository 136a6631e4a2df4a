import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension SQLStore: CredentialStore {
    /// Refuses a name an active credential already has (ASCII case aside): the name is the actor in the
    /// audit trail, so two live credentials with one name would make "who did it" ambiguous. Concurrent
    /// creations on several collectors wait for each other (`StoreLock.credentialNames`).
    public func insertAPIToken(_ token: APITokenRecord, recording action: OperatorAction?) async throws {
        try await write { db in
            try db.serialize(.credentialNames)
            let holder = try db.row(
                """
                SELECT id FROM api_tokens
                WHERE lower(name) = lower(?) AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)
                """, [token.name, token.createdAt])
            if let holder = try holder?.text("id") {
                throw StoreRefusal.credentialNameTaken(name: token.name, holder: holder)
            }
            if let action { try Self.insertAction(action, db) }
            try db.execute(
                "INSERT INTO api_tokens (id, hash, name, scopes, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    token.id, token.hash, token.name, token.scopes.joined(separator: " "), token.createdAt,
                    token.expiresAt,
                ])
        }
    }

    public func apiToken(hash: String) async throws -> APITokenRecord? {
        try await read { db in try db.row("SELECT * FROM api_tokens WHERE hash = ?", [hash]).map(StoreCoding.apiToken) }
    }

    public func apiTokens() async throws -> [APITokenRecord] {
        try await read { db in try db.rows("SELECT * FROM api_tokens ORDER BY created_at").map(StoreCoding.apiToken) }
    }

    public func revokeAPIToken(id: String, at: Date, recording action: OperatorAction?) async throws -> Bool {
        try await write { db in
            guard
                try db.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", [at, id])
                    == 1
            else { return false }
            if let action { try Self.insertAction(action, db) }
            return true
        }
    }
}

extension SQLStore: SignalStore {
    public func upsertStream(_ stream: StreamRecord) async throws {
        try await write { db in
            try db.execute(
                """
                INSERT INTO ssf_streams (id, audience, delivery_method, endpoint_url, authorization_header,
                    events_requested, algorithm, status, created_at, token_id, status_reason, description,
                    subject_format)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET audience = excluded.audience,
                    delivery_method = excluded.delivery_method, endpoint_url = excluded.endpoint_url,
                    authorization_header = excluded.authorization_header,
                    events_requested = excluded.events_requested, algorithm = excluded.algorithm,
                    status = excluded.status, status_reason = excluded.status_reason,
                    description = excluded.description, subject_format = excluded.subject_format
                """,
                [
                    stream.id, stream.audience, stream.deliveryMethod, stream.endpointURL, stream.authorizationHeader,
                    stream.eventsRequested.joined(separator: " "), stream.algorithm, stream.status, stream.createdAt,
                    stream.tokenID, stream.statusReason, stream.description, stream.subjectFormat,
                ])
        }
    }

    public func streams() async throws -> [StreamRecord] {
        try await read { db in
            try db.rows("SELECT * FROM ssf_streams ORDER BY created_at").map { row in
                StreamRecord(
                    id: try row.text("id"), audience: try row.text("audience"),
                    deliveryMethod: try row.text("delivery_method"), endpointURL: try row.optionalText("endpoint_url"),
                    authorizationHeader: try row.optionalText("authorization_header"),
                    eventsRequested: try row.text("events_requested").split(separator: " ").map(String.init),
                    algorithm: try row.text("algorithm"), status: try row.text("status"),
                    createdAt: try row.date("created_at"), tokenID: try row.text("token_id"),
                    statusReason: try row.optionalText("status_reason"),
                    description: try row.optionalText("description"),
                    subjectFormat: try row.text("subject_format"))
            }
        }
    }

    public func outboxBacklog() async throws -> (pending: Int, oldest: Date?) {
        let row = try await read { db in
            // A deleted stream's SETs will never be delivered: not a backlog.
            try db.row(
                """
                SELECT COUNT(*) AS pending, MIN(o.created_at) AS oldest FROM ssf_outbox o
                JOIN ssf_streams s ON s.id = o.stream_id
                WHERE o.delivered_at IS NULL AND s.status <> 'deleted'
                """)
        }
        return (try row?.int("pending") ?? 0, try row?.optionalDate("oldest"))
    }

    public func pendingOutbox(streamID: String, dueBy: Date?, limit: Int) async throws -> [OutboxEntry] {
        try await read { db in
            let due = dueBy == nil ? "" : "AND next_attempt_at <= ?"
            var arguments: [any SQLBindable] = [streamID]
            if let dueBy { arguments.append(dueBy) }
            arguments.append(limit)
            return try db.rows(
                "SELECT * FROM ssf_outbox WHERE stream_id = ? AND delivered_at IS NULL \(due) ORDER BY id LIMIT ?",
                arguments
            ).map(StoreCoding.outbox)
        }
    }

    public func markDelivered(streamID: String, jtis: [String], at: Date) async throws -> Int {
        guard !jtis.isEmpty else { return 0 }
        return try await write { db in
            try jtis.reduce(0) { changed, jti in
                changed
                    + (try db.execute(
                        """
                        UPDATE ssf_outbox SET delivered_at = ?, attempts = attempts + 1
                        WHERE stream_id = ? AND jti = ? AND delivered_at IS NULL
                        """, [at, streamID, jti]))
            }
        }
    }

    public func markRejected(id: Int64, error: String, at: Date) async throws {
        try await write { db in
            try db.execute(
                "UPDATE ssf_outbox SET attempts = attempts + 1, last_error = ?, delivered_at = ? WHERE id = ?",
                ["rejected: " + String(error.prefix(490)), at, id])
        }
    }

    public func markRejected(streamID: String, jti: String, error: String, at: Date) async throws -> Bool {
        try await write { db in
            try db.execute(
                """
                UPDATE ssf_outbox SET attempts = attempts + 1, last_error = ?, delivered_at = ?
                WHERE stream_id = ? AND jti = ? AND delivered_at IS NULL
                """, ["rejected: " + String(error.prefix(490)), at, streamID, jti]) > 0
        }
    }

    public func markFailed(id: Int64, error: String, nextAttemptAt: Date) async throws {
        try await write { db in
            try db.execute(
                "UPDATE ssf_outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
                [String(error.prefix(500)), nextAttemptAt, id])
        }
    }

    public func insertOutbox(_ entries: [OutboxEntry]) async throws {
        try await write { db in try Self.insertOutbox(entries, db) }
    }

    static func insertOutbox(_ entries: [OutboxEntry], _ db: any SQLExecutor) throws {
        for entry in entries {
            try db.execute(
                """
                INSERT INTO ssf_outbox (stream_id, jti, set_jwt, created_at, attempts, next_attempt_at)
                VALUES (?, ?, ?, ?, 0, ?)
                """, [entry.streamID, entry.jti, entry.setJWT, entry.createdAt, entry.nextAttemptAt])
        }
    }
}
