import GRDB
import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Fleet queries: the device list with filters and keyset pagination, the summary, security events.
extension SQLiteStore {
    public func fleetDevices(_ query: FleetQuery) async throws -> FleetPage {
        try await pool.read { db in
            let (sql, arguments, sortKey) = Self.pageSQL(query)
            // First the page's IDs and sort values (indexes only), then the rows' details for those alone.
            let keys = try Row.fetchAll(db, sql: sql, arguments: arguments)
            let limit = min(max(query.limit, 1), 500)
            let page = keys.prefix(limit)
            var next: String?
            if keys.count > limit, let last = page.last {
                let value: DatabaseValue = last["sort_value"]
                next =
                    FleetCursor(
                        sort: query.sort, descending: query.descending, text: String.fromDatabaseValue(value),
                        number: sortKey.numeric ? Double.fromDatabaseValue(value) : nil, id: last["id"]
                    ).token
            }
            let ids: [String] = page.map { $0["id"] }
            let details = try Self.fleetRows(db, ids: ids)
            return FleetPage(devices: ids.compactMap { details[$0] }, nextCursor: next)
        }
    }

    private static func pageSQL(_ query: FleetQuery) -> (
        String, StatementArguments, (expression: String, numeric: Bool)
    ) {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        var from = "fleet f"
        var fromArguments: StatementArguments = []
        func add(_ condition: String, _ values: [(any DatabaseValueConvertible)?]) {
            conditions.append(condition)
            _ = arguments.append(contentsOf: StatementArguments(values))
        }
        if let state = query.state { add("f.state = ?", [state]) }
        if let verdict = query.verdict { add("f.verdict = ?", [verdict]) }
        if let rule = query.failingRule {
            add("f.device_id IN (SELECT device_id FROM verdict_failures WHERE rule = ?)", [rule])
        }
        if let label = query.label {
            add(
                "f.device_id IN (SELECT device_id FROM device_labels WHERE key = ? AND value = ?)",
                [label.key, label.value])
        }
        if let name = query.exactHostname { add("f.hostname = ?", [name]) }
        if let machineID = query.machineID {
            add("f.device_id IN (SELECT id FROM devices WHERE machine_id = ?)", [machineID])
        }
        if let os = query.os { add("f.os = ?", [os]) }
        if let version = query.osVersion { add("f.os_version = ?", [version]) }
        // A device never seen has last_seen 0: seen before any time and after none.
        if let before = query.seenBefore { add("f.last_seen < ?", [before.timeIntervalSince1970]) }
        if let after = query.seenAfter { add("f.last_seen >= ?", [after.timeIntervalSince1970]) }
        if let hostname = query.hostname, !hostname.isEmpty {
            let escaped = hostname.replacing("\\", with: "\\\\").replacing("%", with: "\\%")
                .replacing("_", with: "\\_")
            add("f.hostname LIKE ? ESCAPE '\\'", ["%" + escaped + "%"])
            // The trigram index finds the candidates (3 characters or more) and drives the query (CROSS
            // JOIN keeps that order); the LIKE above stays exact.
            // Without it for `%` and `_`: wildcards to the trigram index, which would then match everything.
            if hostname.unicodeScalars.count >= 3, !hostname.contains("%"), !hostname.contains("_") {
                from =
                    "(SELECT device_id FROM fleet_hostnames WHERE hostname LIKE ?) h CROSS JOIN fleet f USING (device_id)"
                fromArguments = ["%" + hostname + "%"]
            }
        }
        let key: (expression: String, numeric: Bool) =
            switch query.sort {
            case .hostname: ("f.hostname", false)
            case .lastSeen: ("f.last_seen", true)
            case .enrolled: ("f.enrolled_at", true)
            case .verdictSince: ("f.verdict_since", true)
            }
        let direction = query.descending ? "DESC" : "ASC"
        if let cursor = query.after {
            // A row value comparison, which SQLite answers from the (…, sort column, device_id) index.
            let value: (any DatabaseValueConvertible)? = key.numeric ? cursor.number : cursor.text
            add("(\(key.expression), f.device_id) \(query.descending ? "<" : ">") (?, ?)", [value, cursor.id])
        }
        let limit = min(max(query.limit, 1), 500)
        _ = arguments.append(contentsOf: [limit + 1])
        arguments = fromArguments + arguments
        let sql = """
            SELECT f.device_id AS id, \(key.expression) AS sort_value FROM \(from)
            \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY \(key.expression) \(direction), f.device_id \(direction) LIMIT ?
            """
        return (sql, arguments, key)
    }

    static func fleetRows(_ db: Database, ids: [String]) throws -> [String: FleetDevice] {
        guard !ids.isEmpty else { return [:] }
        let marks = Array(repeating: "?", count: ids.count).joined(separator: ",")
        var result: [String: FleetDevice] = [:]
        for row in try Row.fetchAll(
            db,
            sql: """
                SELECT f.*, d.machine_id, d.labels,
                       (SELECT group_concat(rule, char(10)) FROM verdict_failures v WHERE v.device_id = f.device_id) AS failing
                FROM fleet f JOIN devices d ON d.id = f.device_id WHERE f.device_id IN (\(marks))
                """, arguments: StatementArguments(ids))
        {
            let failing = (row["failing"] as String?).map { $0.split(separator: "\n").map(String.init).sorted() }
            let verdict: String = row["verdict"]
            let since: Double = row["verdict_since"]
            let seen: Double = row["last_seen"]
            let os: String = row["os"]
            let version: String = row["os_version"]
            result[row["device_id"]] = FleetDevice(
                id: row["device_id"], hostname: row["hostname"], machineID: row["machine_id"],
                labels: try StoreCoding.labels(row["labels"]), state: row["state"],
                enrolledAt: Date(timeIntervalSince1970: row["enrolled_at"]), verdict: verdict == "none" ? nil : verdict,
                verdictSince: since > 0 ? Date(timeIntervalSince1970: since) : nil, failing: failing ?? [],
                quarantined: row["quarantined"], os: os.isEmpty ? nil : os, osVersion: version.isEmpty ? nil : version,
                lastSeen: seen > 0 ? Date(timeIntervalSince1970: seen) : nil)
        }
        return result
    }

    /// Derives the fleet index again from the source rows, in one transaction: for rows written by
    /// another tool (an import, a benchmark's seed) or an index suspected wrong.
    public func rebuildFleetIndex() async throws {
        try await pool.write { db in try db.execute(sql: FleetIndex.rebuild) }
    }

    public func fleetDevice(_ id: String) async throws -> FleetDevice? {
        try await pool.read { db in try Self.fleetRows(db, ids: [id])[id] }
    }

    public func fleetSummary(now: Date) async throws -> FleetSummary {
        try await pool.read { db in
            var byVerdict: [String: Int] = [:]
            var rules: [FleetSummary.Count] = []
            var systems: [FleetSummary.Count] = []
            var quarantined = 0
            // Counted as rows change (FleetIndex): a handful of rows, whatever the fleet's size.
            for row in try Row.fetchAll(
                db,
                sql: "SELECT * FROM fleet_counts WHERE devices != 0 ORDER BY devices DESC, key")
            {
                let key: String = row["key"]
                let devices: Int = row["devices"]
                switch row["dimension"] as String {
                case "verdict": byVerdict[key] = devices
                case "rule": rules.append(FleetSummary.Count(key: key, devices: devices))
                case "os": systems.append(FleetSummary.Count(key: key.isEmpty ? "unknown" : key, devices: devices))
                case "quarantined": quarantined = devices
                default: break
                }
            }
            let silent =
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM fleet WHERE state = 'active' AND last_seen < ?",
                    arguments: [now.timeIntervalSince1970 - 86400]) ?? 0
            let start = (now.timeIntervalSince1970 / 86400).rounded(.down) * 86400 - 13 * 86400
            var days: [String: FleetSummary.Day] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT * FROM verdict_days WHERE day >= ?",
                arguments: [Self.utcDay(Date(timeIntervalSince1970: start))])
            {
                days[row["day"]] = FleetSummary.Day(
                    day: row["day"], becameNoncompliant: row["became_noncompliant"],
                    becameCompliant: row["became_compliant"])
            }
            let trend = (0..<14).map { offset in
                let day = Self.utcDay(Date(timeIntervalSince1970: start + Double(offset) * 86400))
                return days[day] ?? FleetSummary.Day(day: day, becameNoncompliant: 0, becameCompliant: 0)
            }
            return FleetSummary(
                devices: byVerdict.values.reduce(0, +), byVerdict: byVerdict, byFailingRule: Array(rules.prefix(50)),
                byOS: Array(systems.prefix(50)), quarantined: quarantined, silent: silent, trend: trend,
                generatedAt: now)
        }
    }

    /// YYYY-MM-DD in UTC, as SQLite's `date(at, 'unixepoch')` writes it.
    static func utcDay(_ date: Date) -> String {
        String(
            Timestamp(microsecondsSinceEpoch: Int64((date.timeIntervalSince1970 * 1_000_000).saturatingInt)).description
                .prefix(10))
    }

    public func securityEvents(_ query: SecurityEventQuery) async throws -> [SecurityEvent] {
        try await pool.read { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let device = query.deviceID {
                conditions.append("device_id = ?")
                _ = arguments.append(contentsOf: [device])
            }
            if let code = query.code {
                if code.hasSuffix("*") || code.hasSuffix(".") {
                    // A range on the (code, id) index: every code that starts with the prefix.
                    conditions.append("code >= ? AND code < ?")
                    let prefix = code.hasSuffix("*") ? String(code.dropLast()) : code
                    _ = arguments.append(contentsOf: [prefix, prefix + "\u{10FFFF}"])
                } else {
                    conditions.append("code = ?")
                    _ = arguments.append(contentsOf: [code])
                }
            }
            if let before = query.before {
                conditions.append("id < ?")
                _ = arguments.append(contentsOf: [before])
            }
            _ = arguments.append(contentsOf: [min(max(query.limit, 1), 1000)])
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM security_events \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
                    ORDER BY id DESC LIMIT ?
                    """, arguments: arguments
            ).map { row in
                SecurityEvent(
                    at: Date(timeIntervalSince1970: row["at"]), deviceID: row["device_id"], code: row["code"],
                    message: row["message"], peer: row["peer"], id: row["id"])
            }
        }
    }

    /// Revokes the device and records who and why, in one transaction.
    public func revoke(deviceID: String, actor: String, reason: String, at: Date) async throws -> Bool {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE devices SET status = 'revoked', revoked_at = ? WHERE id = ? AND status = 'active'",
                arguments: [at.timeIntervalSince1970, deviceID])
            guard db.changesCount == 1 else { return false }
            try Self.insertAction(
                OperatorAction(at: at, actor: actor, action: "revoke", deviceID: deviceID, target: nil, reason: reason),
                db: db)
            return true
        }
    }
}
