import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What fleet queries filter, sort and count on, kept current by the store's own scripts in the
/// transaction of each write, the same on both backends, so a query over 100,000 devices reads one
/// narrow table through an index instead of joining and decoding JSON:
/// - `fleet`: one row per device with its state, hostname, verdict and since when, OS, last report time
///   and quarantine; indexed for each filter and sort of the device list.
/// - `device_labels`, `verdict_failures`: labels and failing rules, one row each.
/// - hostname search: a trigram index (FTS5 `fleet_hostnames` on SQLite, `pg_trgm` on PostgreSQL).
/// - `fleet_counts`: active devices by verdict, OS, failing rule and quarantine, changed by each write's
///   `FleetEntry.delta`, so the summary reads a few rows; `verdict_days`: verdict changes per UTC day.
enum FleetIndex {
    static func deviceAdded(_ device: DeviceRecord, labels: [String: String], _ db: any SQLExecutor) throws {
        try db.execute(
            "INSERT INTO fleet (device_id, state, hostname, enrolled_at) VALUES (?, ?, ?, ?)",
            [device.id, device.status.rawValue, device.hostname, device.enrolledAt])
        if db.dialect == .sqlite {
            try db.execute(
                "INSERT INTO fleet_hostnames (hostname, device_id) VALUES (?, ?)", [device.hostname, device.id])
        }
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
            try db.execute(
                "INSERT INTO device_labels (device_id, key, value) VALUES (?, ?, ?)", [device.id, key, value])
        }
        try applyCounts(FleetEntry.delta(from: nil, to: FleetEntry(state: device.status.rawValue)), db)
    }

    static func deviceStateChanged(_ deviceID: String, to state: String, _ db: any SQLExecutor) throws {
        try update(deviceID, db) { $0.state = state }
    }

    static func verdictSaved(
        _ deviceID: String, status: String, since: Date, failing: Set<String>, _ db: any SQLExecutor
    ) throws {
        try update(deviceID, db, also: ("verdict_since = ?", [since])) { entry in
            entry.verdict = status
            entry.failing = failing
        }
    }

    /// On the hot path: one read and one write unless the OS changed.
    static func reportStored(
        _ deviceID: String, receivedAt: Date, os: String, osVersion: String, _ db: any SQLExecutor
    ) throws {
        let current = try db.row("SELECT os, os_version FROM fleet WHERE device_id = ?", [deviceID])
        if let current, try current.text("os") == os, try current.text("os_version") == osVersion {
            try db.execute("UPDATE fleet SET last_seen = ? WHERE device_id = ?", [receivedAt, deviceID])
            return
        }
        try update(deviceID, db, also: ("last_seen = ?", [receivedAt])) { entry in
            entry.os = os
            entry.osVersion = osVersion
        }
    }

    static func quarantineChanged(_ deviceID: String, quarantined: Bool, _ db: any SQLExecutor) throws {
        try update(deviceID, db) { $0.quarantined = quarantined }
    }

    static func verdictChangeRecorded(_ change: VerdictChange, _ db: any SQLExecutor) throws {
        let noncompliant = change.status == "noncompliant" && change.previousStatus != "noncompliant"
        let compliant = change.status == "compliant" && change.previousStatus != "compliant"
        try db.execute(
            """
            INSERT INTO verdict_days (day, became_noncompliant, became_compliant) VALUES (?, ?, ?)
            ON CONFLICT (day) DO UPDATE SET
                became_noncompliant = verdict_days.became_noncompliant + excluded.became_noncompliant,
                became_compliant = verdict_days.became_compliant + excluded.became_compliant
            """, [utcDay(change.at), noncompliant, compliant])
    }

    /// Reads the device's entry (locked on PostgreSQL), changes it, writes it back with the failing
    /// rules and the counts it moves.
    private static func update(
        _ deviceID: String, _ db: any SQLExecutor, also extra: (sql: String, arguments: [any SQLBindable])? = nil,
        _ change: (inout FleetEntry) -> Void
    ) throws {
        guard
            let row = try db.row(
                "SELECT state, verdict, os, os_version, quarantined FROM fleet WHERE device_id = ?"
                    + db.dialect.forUpdate, [deviceID])
        else { return }
        let failing = Set(
            try db.rows("SELECT rule FROM verdict_failures WHERE device_id = ?", [deviceID]).map { try $0.text("rule") }
        )
        let old = FleetEntry(
            state: try row.text("state"), verdict: try row.text("verdict"), os: try row.text("os"),
            osVersion: try row.text("os_version"), quarantined: try row.bool("quarantined"), failing: failing)
        var new = old
        change(&new)
        try db.execute(
            "UPDATE fleet SET state = ?, verdict = ?, os = ?, os_version = ?, quarantined = ?"
                + (extra.map { ", " + $0.sql } ?? "") + " WHERE device_id = ?",
            [new.state, new.verdict, new.os, new.osVersion, new.quarantined] + (extra?.arguments ?? []) + [deviceID])
        for rule in old.failing.subtracting(new.failing).sorted() {
            try db.execute("DELETE FROM verdict_failures WHERE device_id = ? AND rule = ?", [deviceID, rule])
        }
        for rule in new.failing.subtracting(old.failing).sorted() {
            try db.execute("INSERT INTO verdict_failures (device_id, rule) VALUES (?, ?)", [deviceID, rule])
        }
        try applyCounts(FleetEntry.delta(from: old, to: new), db)
    }

    private static func applyCounts(_ delta: [(key: FleetCountKey, change: Int)], _ db: any SQLExecutor) throws {
        for (key, change) in delta {
            try db.execute(
                """
                INSERT INTO fleet_counts (dimension, key, devices) VALUES (?, ?, ?)
                ON CONFLICT (dimension, key) DO UPDATE SET devices = fleet_counts.devices + excluded.devices
                """, [key.dimension, key.key, change])
        }
    }

    /// YYYY-MM-DD in UTC.
    static func utcDay(_ date: Date) -> String {
        String(
            Timestamp(microsecondsSinceEpoch: Int64((date.timeIntervalSince1970 * 1_000_000).saturatingInt)).description
                .prefix(10))
    }
}
