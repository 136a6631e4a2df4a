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
/// day. Deleted in batches, each its own short write transaction, so attestations keep committing.
/// Never deleted: each device's newest attestation (its last signed evidence) and newest certificate,
/// and anything the audit trail chains (verdict changes, operator actions, enforcement reports).
extension SQLiteStore {
    public func pruneHistory(
        attestationsIssuedBefore: Date, certificatesExpiredBefore: Date, noncesExpiredBefore: Date,
        batch: Int = 5000
    ) async throws -> PrunedHistory {
        var pruned = PrunedHistory()
        pruned.attestations = try await deleteInBatches(
            """
            DELETE FROM attestations WHERE id IN (
                SELECT id FROM attestations a WHERE issued_at < ?
                    AND sequence < (SELECT MAX(sequence) FROM attestations b WHERE b.device_id = a.device_id)
                LIMIT ?)
            """, before: attestationsIssuedBefore, batch: batch)
        pruned.certificates = try await deleteInBatches(
            """
            DELETE FROM certificates WHERE serial IN (
                SELECT serial FROM certificates c WHERE not_after < ?
                    AND not_after < (SELECT MAX(not_after) FROM certificates d WHERE d.device_id = c.device_id)
                LIMIT ?)
            """, before: certificatesExpiredBefore, batch: batch)
        // An expired nonce admits nothing; a replay of it is refused as unknown (and by its sequence).
        pruned.nonces = try await deleteInBatches(
            "DELETE FROM nonces WHERE rowid IN (SELECT rowid FROM nonces WHERE expires_at < ? LIMIT ?)",
            before: noncesExpiredBefore, batch: batch)
        return pruned
    }

    private func deleteInBatches(_ sql: String, before: Date, batch: Int) async throws -> Int {
        var total = 0
        while true {
            let deleted = try await pool.write { db in
                try db.execute(sql: sql, arguments: [before.timeIntervalSince1970, batch])
                return db.changesCount
            }
            total += deleted
            if deleted < batch { return total }
            await Task.yield()
        }
    }
}
