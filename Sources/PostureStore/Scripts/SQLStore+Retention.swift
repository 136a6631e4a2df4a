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
    public var securityEvents = 0
    /// Schema 2 report parts no kept attestation names any more.
    public var reportBodies = 0

    public init() {}
}

/// Retention: an agent reports every minute, so without it the store grows by megabytes per device per
/// day. Deleted in batches, each its own short write transaction, so attestations keep committing; each
/// batch resumes where the last one stopped instead of re-reading the rows it keeps. Never deleted: each
/// device's newest attestation (its last signed evidence) and newest certificate, any nonce still current
/// (an agent back from days offline delivers its spool under it), and anything the audit trail chains
/// (verdict changes, operator actions, enforcement reports).
extension SQLStore: RetentionStore {
    /// Stops between batches when the task is cancelled, returning what it deleted so far.
    public func pruneHistory(
        attestationsIssuedBefore: Date, certificatesExpiredBefore: Date, noncesSupersededBefore: Date,
        batch: Int = 500
    ) async throws -> PrunedHistory {
        var pruned = PrunedHistory()
        let attestations = try await pruneAttestations(before: attestationsIssuedBefore, batch: batch)
        pruned.attestations = attestations.deleted
        // A part named by a kept attestation was seen when that attestation arrived (to within
        // `ReportBodies.refresh`); a day more covers reports signed before and received after the cutoff.
        let partsBefore = attestations.keptFrom.addingTimeInterval(-86400)
        while !Task.isCancelled {
            let deleted = try await write { db in try ReportBodies.prune(before: partsBefore, batch: batch, db) }
            pruned.reportBodies += deleted
            if deleted < batch { break }
        }
        pruned.certificates = try await deleteInBatches(
            from: "certificates", key: "serial", position: "not_after", before: certificatesExpiredBefore,
            keeping: "not_after = (SELECT MAX(not_after) FROM certificates b WHERE b.device_id = t.device_id)",
            batch: batch)
        // A superseded nonce still admits reports signed before it was superseded; after the attestation
        // cutoff those would be pruned anyway. A current one (superseded_at NULL) is never before anything.
        pruned.nonces = try await deleteInBatches(
            from: "nonces", key: "value", position: "superseded_at", before: noncesSupersededBefore, keeping: nil,
            batch: batch)
        return pruned
    }

    /// Security events (refusals) older than `before`; enforcement reports, which the audit trail
    /// chains, stay.
    public func pruneSecurityEvents(before: Date, batch: Int = 500) async throws -> Int {
        try await deleteInBatches(
            from: "security_events", key: "id", position: "at", before: before,
            keeping: "code LIKE 'enforcement.%'", batch: batch)
    }

    /// Deletes the rows of `table` whose `position` is before `before`, except those `keeping` holds for
    /// (a condition on the row as `t`), oldest first, `batch` at a time.
    func deleteInBatches(
        from table: String, key: String, position: String, before: Date, keeping: String?, batch: Int
    ) async throws -> Int {
        let candidates = """
            SELECT \(key) AS key, \(position) AS position FROM \(table) t
            WHERE \(position) < ? AND \(position) >= ?\(keeping.map { " AND NOT (\($0))" } ?? "")
            ORDER BY \(position) LIMIT ?
            """
        var total = 0
        var from = -Double.greatestFiniteMagnitude
        while !Task.isCancelled {
            let start = from
            let step: (deleted: Int, last: Double)?
            do {
                step = try await write { db in
                    let rows = try db.rows(candidates, [before, start, batch])
                    guard let last = rows.last else { return nil }
                    let marks = Array(repeating: "?", count: rows.count).joined(separator: ", ")
                    try db.execute("DELETE FROM \(table) WHERE \(key) IN (\(marks))", rows.map { $0["key"] })
                    return (rows.count, try last.double("position"))
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
