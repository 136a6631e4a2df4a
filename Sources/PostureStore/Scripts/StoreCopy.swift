#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `posture-collector migrate --from FILE`: every row of one store copied into another, empty one (an
/// embedded SQLite fleet moved onto PostgreSQL), table by table in key order, in batches. Row IDs are
/// kept, so the audit trail, whose entries name their source rows and are hashed over backend-neutral
/// records, verifies on the destination with the same head.
public enum StoreCopy {
    /// Tables in an order that satisfies their foreign keys, each with its key (for batches in order).
    static let tables: [(name: String, key: String)] = [
        ("tokens", "id"), ("devices", "id"), ("certificates", "serial"), ("nonces", "value"),
        ("report_bodies", "digest"), ("attestations", "device_id, sequence"),
        ("device_state", "device_id"), ("security_events", "id"),
        ("verdicts", "device_id"), ("verdict_changes", "id"), ("operator_actions", "id"),
        ("quarantines", "device_id"), ("waivers", "id"), ("api_tokens", "id"), ("ssf_streams", "id"),
        ("ssf_outbox", "id"), ("audit_log", "id"), ("device_labels", "device_id, key"),
        ("verdict_failures", "device_id, rule"), ("fleet", "device_id"), ("fleet_counts", "dimension, key"),
        ("verdict_days", "day"), ("access_grants", "id"), ("access_events", "id"),
        ("verdict_pulls", "device_id"),
    ]

    /// Tables whose key the database generates: after the copy, their sequences continue past it.
    static let generatedKeys = [
        "security_events", "verdict_changes", "operator_actions", "ssf_outbox", "audit_log", "access_grants",
        "access_events",
    ]

    public struct Refused: Error, CustomStringConvertible {
        public var description: String
    }

    /// Copies everything; returns the rows copied per table. `progress` is told after each batch.
    public static func copy(
        from source: SQLStore, to destination: SQLStore, batch: Int = 1000,
        progress: @Sendable (String, Int) -> Void = { _, _ in }
    ) async throws -> [String: Int] {
        let occupied = try await destination.read { db in
            try db.row("SELECT COUNT(*) AS n FROM tokens")?.int("n") ?? 0
        }
        guard occupied == 0 else {
            throw Refused(
                description:
                    "the destination store is not empty (it holds \(occupied) enrollment tokens); migrate into a new, empty database"
            )
        }
        var copied: [String: Int] = [:]
        for (table, key) in tables {
            let keyColumns = key.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            var after: [SQLValue]?
            var total = 0
            while true {
                let position = after
                let rows = try await source.read { db in
                    var condition = ""
                    var arguments: [any SQLBindable] = []
                    if let position {
                        let marks = Array(repeating: "?", count: keyColumns.count).joined(separator: ", ")
                        condition = "WHERE (\(key)) > (\(marks))"
                        arguments = position
                    }
                    return try db.rows(
                        "SELECT * FROM \(table) \(condition) ORDER BY \(key) LIMIT ?", arguments + [batch])
                }
                guard let last = rows.last else { break }
                try await destination.write { db in
                    for row in rows {
                        // PostgreSQL's attestations have no row ID (partitioned by day, keyed by sequence).
                        let columns = row.columns.filter {
                            !(table == "attestations" && $0 == "id" && db.dialect == .postgresql)
                        }
                        let marks = Array(repeating: "?", count: columns.count).joined(separator: ", ")
                        try db.execute(
                            "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES (\(marks))",
                            columns.map { row[$0] })
                    }
                }
                total += rows.count
                progress(table, total)
                after = keyColumns.map { last[$0] }
                if rows.count < batch { break }
            }
            copied[table] = total
        }
        try await destination.write { db in
            guard db.dialect == .postgresql else { return }
            for table in generatedKeys {
                _ = try db.rows(
                    "SELECT setval(pg_get_serial_sequence('\(table)', 'id'), COALESCE((SELECT MAX(id) FROM \(table)), 0) + 1, false)"
                )
            }
        }
        return copied
    }
}
