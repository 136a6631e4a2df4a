import GRDB
import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What a retention pass deleted, per table.
public struct PrunedHistory: Sendable, Equatable {
    public var attestations = 0
    public var certificates = 0
    public var nonces = 0

    public init() {}
}

/// Retention: an agent reports every minute, so without it the store grows by megabytes per device per
/// day. Deleted in batches, each its own short write transaction, so attestations keep committing; each
/// batch resumes where the last one stopped instead of re-reading the rows it keeps. Never deleted: each
/// device's newest attestation (its last signed evidence) and newest certificate, any nonce still current
/// (an agent back from days offline delivers its spool under it), and anything the audit trail chains
/// (verdict changes, operator actions, enforcement reports).
extension SQLiteStore {
    /// Stops between batches when the task is cancelled, returning what it deleted so far.
    public func pruneHistory(
        attestationsIssuedBefore: Date, certificatesExpiredBefore: Date, noncesSupersededBefore: Date,
        batch: Int = 500
    ) async throws -> PrunedHistory {
        var pruned = PrunedHistory()
        pruned.attestations = try await deleteInBatches(
            from: "attestations", key: "id",
            candidates: """
                SELECT id AS key, issued_at AS position FROM attestations a
                WHERE issued_at < ? AND issued_at >= ?
                    AND sequence < (SELECT MAX(sequence) FROM attestations b WHERE b.device_id = a.device_id)
                ORDER BY issued_at LIMIT ?
                """, before: attestationsIssuedBefore, batch: batch)
        pruned.certificates = try await deleteInBatches(
            from: "certificates", key: "serial",
            candidates: """
                SELECT serial AS key, not_after AS position FROM certificates c
                WHERE not_after < ? AND not_after >= ?
                    AND not_after < (SELECT MAX(not_after) FROM certificates d WHERE d.device_id = c.device_id)
                ORDER BY not_after LIMIT ?
                """, before: certificatesExpiredBefore, batch: batch)
        // A superseded nonce still admits reports signed before it was superseded; after the attestation
        // cutoff those would be pruned anyway.
        pruned.nonces = try await deleteInBatches(
            from: "nonces", key: "rowid",
            candidates: """
                SELECT rowid AS key, superseded_at AS position FROM nonces
                WHERE superseded_at < ? AND superseded_at >= ?
                ORDER BY superseded_at LIMIT ?
                """, before: noncesSupersededBefore, batch: batch)
        return pruned
    }

    /// `candidates` lists up to `batch` rows to delete as (key, position), in position order, from a
    /// position on (arguments: before, from, batch).
    private func deleteInBatches(from table: String, key: String, candidates: String, before: Date, batch: Int)
        async throws -> Int
    {
        var total = 0
        var from = -Double.greatestFiniteMagnitude
        while !Task.isCancelled {
            let start = from
            let step: (deleted: Int, last: Double)?
            do {
                step = try await pool.write { db in
                    let rows = try Row.fetchAll(
                        db, sql: candidates, arguments: [before.timeIntervalSince1970, start, batch])
                    guard let last = rows.last else { return nil }
                    let marks = Array(repeating: "?", count: rows.count).joined(separator: ", ")
                    try db.execute(
                        sql: "DELETE FROM \(table) WHERE \(key) IN (\(marks))",
                        arguments: StatementArguments(rows.map { $0["key"] as DatabaseValue }))
                    return (rows.count, last["position"])
                }
            } catch is CancellationError {
                break
            }
            guard let step else { break }
            total += step.deleted
            from = step.last
            if step.deleted < batch { break }
            await Task.yield()
        }
        return total
    }
}
