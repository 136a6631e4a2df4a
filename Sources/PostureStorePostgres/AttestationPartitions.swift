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
        let (year, month, day) = civil(epochDay: Int((start / 86400).rounded(.down)))
        let digits = String(year * 10000 + month * 100 + day)
        return "attestations_d" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's civil algorithms).
    static func epochDay(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146097 + dayOfEra - 719468
    }

    static func civil(epochDay: Int) -> (year: Int, month: Int, day: Int) {
        let z = epochDay + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let dayOfEra = z - era * 146097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
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
            let start = Double(epochDay(year: date / 10000, month: date / 100 % 100, day: date % 100)) * 86400
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
