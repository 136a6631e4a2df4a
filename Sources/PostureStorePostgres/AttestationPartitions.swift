import PostureModel
import PostureStore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Attestations on PostgreSQL live in one partition per UTC day of receipt (`attestations_dYYYYMMDD`),
/// made a week ahead, so that retention drops a whole day (a catalog change) instead of deleting 100
/// million rows one by one and leaving the table to vacuum.
enum AttestationPartitions {
    struct Day: Equatable {
        var name: String
        /// Seconds since the epoch: the first instant of the day, and the first of the next.
        var start: Double
        var end: Double
    }

    static let ahead = 7

    static func day(containing instant: Double) -> (start: Double, end: Double) {
        let start = (instant / 86400).rounded(.down) * 86400
        return (start, start + 86400)
    }

    /// Makes the partitions of today and the next `ahead` days that do not exist yet. A day whose rows
    /// already went to the default partition (no partition was made in time) stays there.
    static func ensure(now: Date, _ db: any SQLExecutor) throws {
        let existing = Set(try list(db).map(\.start))
        for offset in 0...ahead {
            let (start, end) = day(containing: now.timeIntervalSince1970 + Double(offset) * 86400)
            guard !existing.contains(start) else { continue }
            let name = self.name(ofDayStarting: start)
            let kept = try db.row(
                "SELECT 1 AS n FROM attestations_kept WHERE received_at >= ? AND received_at < ? LIMIT 1", [start, end])
            guard kept == nil else { continue }
            try db.execute(
                "CREATE TABLE IF NOT EXISTS \(name) PARTITION OF attestations FOR VALUES FROM (\(start)) TO (\(end))",
                [])
        }
    }

    static func name(ofDayStarting start: Double) -> String {
        let (year, month, day) = Timestamp.civilDate(daysSinceEpoch: Int64((start / 86400).rounded(.down)))
        let digits = String(year * 10000 + month * 100 + day)
        return "attestations_d" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    /// The day partitions, oldest first.
    static func list(_ db: any SQLExecutor) throws -> [Day] {
        try db.rows(
            """
            SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'attestations'::regclass AND c.relname LIKE 'attestations\\_d%'
            ORDER BY c.relname
            """
        ).compactMap { row -> Day? in
            let name = try row.text("name")
            let digits = name.dropFirst("attestations_d".count)
            guard digits.count == 8, let date = Int(digits) else { return nil }
            let days = Timestamp.daysSinceEpoch(
                year: Int64(date / 10000), month: Int64(date / 100 % 100), day: Int64(date % 100))
            let start = Double(days) * 86400
            return Day(name: name, start: start, end: start + 86400)
        }
    }

    /// Drops a day: detached first, so that each device's newest attestation in it, put back, lands in
    /// the default partition (retention never deletes a device's last signed evidence). Returns the rows
    /// deleted.
    static func drop(_ day: Day, _ db: any SQLExecutor) throws -> Int {
        let rows = try db.row("SELECT COUNT(*) AS n FROM \(day.name)")?.int("n") ?? 0
        try db.execute("ALTER TABLE attestations DETACH PARTITION \(day.name)", [])
        let kept = try db.execute(
            """
            INSERT INTO attestations SELECT p.* FROM \(day.name) p
            JOIN device_state s ON s.device_id = p.device_id AND s.sequence = p.sequence
            """, [])
        try db.execute("DROP TABLE \(day.name)", [])
        return rows - kept
    }
}
