#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Schema 2 report parts, each stored once (deflated) under its digest however many attestations name
/// it. `last_seen` says when an attestation last named it, refreshed at most hourly so that an unchanged
/// part costs a read, not a write; retention deletes parts no attestation named since its cutoff (less
/// that hour) and none a device's newest attestation names (`device_state`).
enum ReportBodies {
    /// How stale `last_seen` may be: retention keeps this much more than its cutoff.
    static let refresh: TimeInterval = 3600

    static func store(_ bodies: [ReportBody], at now: Date, _ db: any SQLExecutor) throws {
        for body in bodies {
            let seen = try db.row("SELECT last_seen FROM report_bodies WHERE digest = ?", [body.digest])
            if let seen {
                if try seen.double("last_seen") < now.timeIntervalSince1970 - refresh {
                    try db.execute("UPDATE report_bodies SET last_seen = ? WHERE digest = ?", [now, body.digest])
                }
                continue
            }
            // Two collectors may store the same new part at once: the second insert is a no-op.
            try db.execute(
                """
                INSERT INTO report_bodies (digest, size, body, last_seen) VALUES (?, ?, ?, ?)
                ON CONFLICT (digest) DO NOTHING
                """, [body.digest, body.bytes.count, try Deflate.compress(body.bytes), now])
        }
    }

    static func load(_ digest: String, _ db: any SQLExecutor) throws -> Data? {
        guard let row = try db.row("SELECT size, body FROM report_bodies WHERE digest = ?", [digest]),
            let body = try row.optionalBlob("body")
        else { return nil }
        return try Deflate.decompress(body, size: try row.int("size"))
    }

    /// Deletes, in one statement per call, up to `batch` parts that no attestation since `before` named.
    static func prune(before: Date, batch: Int, _ db: any SQLExecutor) throws -> Int {
        let rows = try db.rows(
            """
            SELECT digest FROM report_bodies t WHERE last_seen < ?
            AND NOT EXISTS (SELECT 1 FROM device_state s WHERE s.report_digest = t.digest)
            AND NOT EXISTS (SELECT 1 FROM device_state s WHERE s.journal_digest = t.digest)
            ORDER BY last_seen LIMIT ?
            """, [before.addingTimeInterval(-refresh), batch])
        guard !rows.isEmpty else { return 0 }
        let marks = Array(repeating: "?", count: rows.count).joined(separator: ", ")
        try db.execute("DELETE FROM report_bodies WHERE digest IN (\(marks))", rows.map { $0["digest"] })
        return rows.count
    }
}
