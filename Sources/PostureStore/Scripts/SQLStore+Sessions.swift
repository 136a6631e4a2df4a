#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension SQLStore: SessionStore {
    public func createSession(_ session: SessionRecord, replacing idHash: String?, limits: SessionLimits)
        async throws
    {
        try await write { db in
            let now = session.created
            if let idHash { try db.execute("DELETE FROM dashboard_sessions WHERE id_hash = ?", [idHash]) }
            try db.execute(
                "DELETE FROM dashboard_sessions WHERE created < ? OR last_used < ?",
                [now.addingTimeInterval(-limits.lifetime), now.addingTimeInterval(-limits.idle)])
            let mine = try db.rows(
                "SELECT id_hash FROM dashboard_sessions WHERE credential_hash = ? ORDER BY created DESC",
                [session.credentialHash])
            for row in mine.dropFirst(max(limits.perCredential - 1, 0)) {
                try db.execute("DELETE FROM dashboard_sessions WHERE id_hash = ?", [try row.text("id_hash")])
            }
            let total = try db.row("SELECT COUNT(*) AS n FROM dashboard_sessions")?.int("n") ?? 0
            if total >= limits.total {
                try db.execute(
                    """
                    DELETE FROM dashboard_sessions WHERE id_hash IN (
                        SELECT id_hash FROM dashboard_sessions ORDER BY last_used LIMIT ?)
                    """, [total - limits.total + 1])
            }
            try db.execute(
                """
                INSERT INTO dashboard_sessions (id_hash, credential_hash, name, csrf, created, last_used)
                VALUES (?, ?, ?, ?, ?, ?)
                """,
                [session.idHash, session.credentialHash, session.name, session.csrf, session.created, session.lastUsed])
        }
    }

    public func session(idHash: String, now: Date, limits: SessionLimits) async throws -> SessionRecord? {
        guard
            let found = try await read({ db in
                try db.row("SELECT * FROM dashboard_sessions WHERE id_hash = ?", [idHash]).map { row in
                    SessionRecord(
                        idHash: try row.text("id_hash"), credentialHash: try row.text("credential_hash"),
                        name: try row.text("name"), csrf: try row.text("csrf"), created: try row.date("created"),
                        lastUsed: try row.date("last_used"))
                }
            })
        else { return nil }
        guard now.timeIntervalSince(found.created) < limits.lifetime,
            now.timeIntervalSince(found.lastUsed) < limits.idle
        else {
            try await endSession(idHash: idHash)
            return nil
        }
        if now.timeIntervalSince(found.lastUsed) > 60 {
            try await write { db in
                try db.execute("UPDATE dashboard_sessions SET last_used = ? WHERE id_hash = ?", [now, idHash])
            }
        }
        return found
    }

    public func endSession(idHash: String) async throws {
        try await write { db in try db.execute("DELETE FROM dashboard_sessions WHERE id_hash = ?", [idHash]) }
    }
}
