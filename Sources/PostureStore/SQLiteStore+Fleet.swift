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

    private static func pageSQL(_ query: FleetQuery) -> (String, StatementArguments, (expression: String, numeric: Bool))
    {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let state = query.state {
            conditions.append("d.status = ?")
            _ = arguments.append(contentsOf: [state])
        }
        if let verdict = query.verdict {
            if verdict == "none" {
                conditions.append("v.status IS NULL")
            } else {
                conditions.append("v.status = ?")
                _ = arguments.append(contentsOf: [verdict])
            }
        }
        if let rule = query.failingRule {
            conditions.append("d.id IN (SELECT device_id FROM verdict_failures WHERE rule = ?)")
            _ = arguments.append(contentsOf: [rule])
        }
        if let label = query.label {
            conditions.append("d.id IN (SELECT device_id FROM device_labels WHERE key = ? AND value = ?)")
            _ = arguments.append(contentsOf: [label.key, label.value])
        }
        if let os = query.os {
            conditions.append("s.os_id = ?")
            _ = arguments.append(contentsOf: [os])
        }
        if let version = query.osVersion {
            conditions.append("s.os_version = ?")
            _ = arguments.append(contentsOf: [version])
        }
        // A device never seen counts as seen before any time and after none.
        if let before = query.seenBefore {
            conditions.append("COALESCE(s.received_at, 0) < ?")
            _ = arguments.append(contentsOf: [before.timeIntervalSince1970])
        }
        if let after = query.seenAfter {
            conditions.append("s.received_at >= ?")
            _ = arguments.append(contentsOf: [after.timeIntervalSince1970])
        }
        if let hostname = query.hostname, !hostname.isEmpty {
            let escaped = hostname.replacing("\\", with: "\\\\").replacing("%", with: "\\%")
                .replacing("_", with: "\\_")
            conditions.append("d.hostname LIKE ? ESCAPE '\\'")
            _ = arguments.append(contentsOf: ["%" + escaped + "%"])
        }
        let key: (expression: String, numeric: Bool) =
            switch query.sort {
            case .hostname: ("d.hostname", false)
            case .lastSeen: ("COALESCE(s.received_at, 0)", true)
            case .enrolled: ("d.enrolled_at", true)
            case .verdictSince: ("COALESCE(v.status_since, 0)", true)
            }
        let direction = query.descending ? "DESC" : "ASC"
        if let cursor = query.after {
            let comparison = query.descending ? "<" : ">"
            conditions.append(
                "(\(key.expression) \(comparison) ? OR (\(key.expression) = ? AND d.id \(comparison) ?))")
            let value: (any DatabaseValueConvertible)? = key.numeric ? cursor.number : cursor.text
            _ = arguments.append(contentsOf: [value, value, cursor.id])
        }
        let limit = min(max(query.limit, 1), 500)
        _ = arguments.append(contentsOf: [limit + 1])
        let sql = """
            SELECT d.id, \(key.expression) AS sort_value
            FROM devices d LEFT JOIN verdicts v ON v.device_id = d.id LEFT JOIN device_state s ON s.device_id = d.id
            \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY sort_value \(direction), d.id \(direction) LIMIT ?
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
                SELECT d.id, d.hostname, d.machine_id, d.labels, d.status, d.enrolled_at, v.status AS verdict,
                       v.status_since, s.os_id, s.os_version, s.received_at,
                       (SELECT group_concat(rule, char(10)) FROM verdict_failures f WHERE f.device_id = d.id) AS failing,
                       EXISTS (SELECT 1 FROM quarantines q WHERE q.device_id = d.id) AS quarantined
                FROM devices d LEFT JOIN verdicts v ON v.device_id = d.id LEFT JOIN device_state s ON s.device_id = d.id
                WHERE d.id IN (\(marks))
                """, arguments: StatementArguments(ids))
        {
            let failing = (row["failing"] as String?).map { $0.split(separator: "\n").map(String.init).sorted() }
            result[row["id"]] = FleetDevice(
                id: row["id"], hostname: row["hostname"], machineID: row["machine_id"],
                labels: try StoreCoding.labels(row["labels"]), state: row["status"],
                enrolledAt: Date(timeIntervalSince1970: row["enrolled_at"]), verdict: row["verdict"],
                verdictSince: (row["status_since"] as Double?).map(Date.init(timeIntervalSince1970:)),
                failing: failing ?? [], quarantined: row["quarantined"], os: row["os_id"],
                osVersion: row["os_version"],
                lastSeen: (row["received_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
        }
        return result
    }

    public func fleetDevice(_ id: String) async throws -> FleetDevice? {
        try await pool.read { db in try Self.fleetRows(db, ids: [id])[id] }
    }

    public func fleetSummary(now: Date) async throws -> FleetSummary {
        try await pool.read { db in
            let active = "d.status = 'active'"
            var byVerdict: [String: Int] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT COALESCE(v.status, 'none') AS k, COUNT(*) AS n
                    FROM devices d LEFT JOIN verdicts v ON v.device_id = d.id WHERE \(active) GROUP BY k
                    """)
            {
                byVerdict[row["k"]] = row["n"]
            }
            func counts(_ sql: String) throws -> [FleetSummary.Count] {
                try Row.fetchAll(db, sql: sql).map { FleetSummary.Count(key: $0["k"], devices: $0["n"]) }
            }
            let rules = try counts(
                """
                SELECT f.rule AS k, COUNT(*) AS n FROM verdict_failures f JOIN devices d ON d.id = f.device_id
                WHERE \(active) GROUP BY f.rule ORDER BY n DESC, k LIMIT 50
                """)
            let systems = try counts(
                """
                SELECT TRIM(COALESCE(s.os_id, 'unknown') || ' ' || COALESCE(s.os_version, '')) AS k, COUNT(*) AS n
                FROM device_state s JOIN devices d ON d.id = s.device_id WHERE \(active)
                GROUP BY s.os_id, s.os_version ORDER BY n DESC, k LIMIT 50
                """)
            let quarantined =
                try Int.fetchOne(
                    db,
                    sql: "SELECT COUNT(*) FROM quarantines q JOIN devices d ON d.id = q.device_id WHERE \(active)")
                ?? 0
            let silent =
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT COUNT(*) FROM devices d LEFT JOIN device_state s ON s.device_id = d.id
                        WHERE \(active) AND COALESCE(s.received_at, 0) < ?
                        """, arguments: [now.timeIntervalSince1970 - 86400]) ?? 0
            let start = (now.timeIntervalSince1970 / 86400).rounded(.down) * 86400 - 13 * 86400
            var days: [String: FleetSummary.Day] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT date(at, 'unixepoch') AS day,
                           SUM(status = 'noncompliant' AND COALESCE(previous_status, '') != 'noncompliant') AS bad,
                           SUM(status = 'compliant' AND COALESCE(previous_status, '') != 'compliant') AS good
                    FROM verdict_changes WHERE at >= ? GROUP BY day
                    """, arguments: [start])
            {
                days[row["day"]] = FleetSummary.Day(
                    day: row["day"], becameNoncompliant: row["bad"], becameCompliant: row["good"])
            }
            let trend = (0..<14).map { offset in
                let day = Self.utcDay(Date(timeIntervalSince1970: start + Double(offset) * 86400))
                return days[day] ?? FleetSummary.Day(day: day, becameNoncompliant: 0, becameCompliant: 0)
            }
            return FleetSummary(
                devices: byVerdict.values.reduce(0, +), byVerdict: byVerdict, byFailingRule: rules, byOS: systems,
                quarantined: quarantined, silent: silent, trend: trend, generatedAt: now)
        }
    }

    static func utcDay(_ date: Date) -> String {
        let days = Int((date.timeIntervalSince1970 / 86400).rounded(.down))
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm): no calendar, no ICU.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(year)-\(two(month))-\(two(day))"
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
                    conditions.append("substr(code, 1, ?) = ?")
                    let prefix = code.hasSuffix("*") ? String(code.dropLast()) : code
                    _ = arguments.append(contentsOf: [prefix.utf8.count, prefix])
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
