import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Fleet queries: the device list with filters and keyset pagination, the summary, security events.
extension SQLStore: FleetStore {
    public func fleetDevices(_ query: FleetQuery) async throws -> FleetPage {
        try await read { db in
            let (sql, arguments, numeric) = Self.pageSQL(query, dialect: db.dialect)
            // First the page's IDs and sort values (indexes only), then the rows' details for those alone.
            let keys = try db.rows(sql, arguments)
            let limit = min(max(query.limit, 1), 500)
            let page = keys.prefix(limit)
            var next: String?
            if keys.count > limit, let last = page.last {
                next =
                    FleetCursor(
                        sort: query.sort, descending: query.descending,
                        text: numeric ? nil : try last.optionalText("sort_value"),
                        number: numeric ? try last.optionalDouble("sort_value") : nil, id: try last.text("id")
                    ).token
            }
            let ids = try page.map { try $0.text("id") }
            let details = try Self.fleetRows(db, ids: ids)
            return FleetPage(devices: ids.compactMap { details[$0] }, nextCursor: next)
        }
    }

    private static func pageSQL(_ query: FleetQuery, dialect: SQLDialect) -> (String, [any SQLBindable], Bool) {
        var conditions: [String] = []
        var arguments: [any SQLBindable] = []
        var from = "fleet f"
        var fromArguments: [any SQLBindable] = []
        func add(_ condition: String, _ values: [any SQLBindable]) {
            conditions.append(condition)
            arguments += values
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
        if let before = query.seenBefore { add("f.last_seen < ?", [before]) }
        if let after = query.seenAfter { add("f.last_seen >= ?", [after]) }
        if let hostname = query.hostname, !hostname.isEmpty {
            let escaped = hostname.replacing("\\", with: "\\\\").replacing("%", with: "\\%")
                .replacing("_", with: "\\_")
            switch dialect {
            case .postgresql:
                // pg_trgm's index on fleet.hostname answers ILIKE itself.
                add("f.hostname ILIKE ? ESCAPE '\\'", ["%" + escaped + "%"])
            case .sqlite:
                add("f.hostname LIKE ? ESCAPE '\\'", ["%" + escaped + "%"])
                // The trigram index finds the candidates (3 characters or more) and drives the query (CROSS
                // JOIN keeps that order); the LIKE above stays exact. Not for `%` and `_`: wildcards to
                // the trigram index, which would then match everything.
                if hostname.unicodeScalars.count >= 3, !hostname.contains("%"), !hostname.contains("_") {
                    from =
                        "(SELECT device_id FROM fleet_hostnames WHERE hostname LIKE ?) h CROSS JOIN fleet f USING (device_id)"
                    fromArguments = ["%" + hostname + "%"]
                }
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
            // A row value comparison, answered from the (…, sort column, device_id) index.
            let value: any SQLBindable = key.numeric ? cursor.number : cursor.text
            add("(\(key.expression), f.device_id) \(query.descending ? "<" : ">") (?, ?)", [value, cursor.id])
        }
        arguments.append(min(max(query.limit, 1), 500) + 1)
        // Text sorts by its bytes on both: PostgreSQL's schema declares these columns COLLATE "C".
        let sql = """
            SELECT f.device_id AS id, \(key.expression) AS sort_value FROM \(from)
            \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY \(key.expression) \(direction), f.device_id \(direction) LIMIT ?
            """
        return (sql, fromArguments + arguments, key.numeric)
    }

    static func fleetRows(_ db: any SQLExecutor, ids: [String]) throws -> [String: FleetDevice] {
        guard !ids.isEmpty else { return [:] }
        let marks = Array(repeating: "?", count: ids.count).joined(separator: ",")
        var failing: [String: [String]] = [:]
        for row in try db.rows("SELECT device_id, rule FROM verdict_failures WHERE device_id IN (\(marks))", ids) {
            failing[try row.text("device_id"), default: []].append(try row.text("rule"))
        }
        var result: [String: FleetDevice] = [:]
        for row in try db.rows(
            """
            SELECT f.*, d.machine_id, d.labels FROM fleet f JOIN devices d ON d.id = f.device_id
            WHERE f.device_id IN (\(marks))
            """, ids)
        {
            let id = try row.text("device_id")
            let verdict = try row.text("verdict")
            let since = try row.double("verdict_since")
            let seen = try row.double("last_seen")
            let os = try row.text("os")
            let version = try row.text("os_version")
            result[id] = FleetDevice(
                id: id, hostname: try row.text("hostname"), machineID: try row.text("machine_id"),
                labels: try StoreCoding.labels(try row.text("labels")), state: try row.text("state"),
                enrolledAt: try row.date("enrolled_at"), verdict: verdict == "none" ? nil : verdict,
                verdictSince: since > 0 ? Date(timeIntervalSince1970: since) : nil,
                failing: (failing[id] ?? []).sorted(), quarantined: try row.bool("quarantined"),
                os: os.isEmpty ? nil : os, osVersion: version.isEmpty ? nil : version,
                lastSeen: seen > 0 ? Date(timeIntervalSince1970: seen) : nil)
        }
        return result
    }

    public func fleetDevice(_ id: String) async throws -> FleetDevice? {
        try await read { db in try Self.fleetRows(db, ids: [id])[id] }
    }

    public func fleetSummary(now: Date) async throws -> FleetSummary {
        try await read { db in
            var byVerdict: [String: Int] = [:]
            var rules: [FleetSummary.Count] = []
            var systems: [FleetSummary.Count] = []
            var quarantined = 0
            // Counted as rows change (FleetIndex): a handful of rows, whatever the fleet's size.
            for row in try db.rows("SELECT * FROM fleet_counts WHERE devices != 0 ORDER BY devices DESC, key") {
                let key = try row.text("key")
                let devices = try row.int("devices")
                switch try row.text("dimension") {
                case "verdict": byVerdict[key] = devices
                case "rule": rules.append(FleetSummary.Count(key: key, devices: devices))
                case "os": systems.append(FleetSummary.Count(key: key.isEmpty ? "unknown" : key, devices: devices))
                case "quarantined": quarantined = devices
                default: break
                }
            }
            // The same order on both backends: most devices first, then by the key's bytes.
            let order: (FleetSummary.Count, FleetSummary.Count) -> Bool = { a, b in
                a.devices != b.devices ? a.devices > b.devices : a.key.utf8.lexicographicallyPrecedes(b.key.utf8)
            }
            rules.sort(by: order)
            systems.sort(by: order)
            let silent =
                try db.row(
                    "SELECT COUNT(*) AS silent FROM fleet WHERE state = 'active' AND last_seen < ?",
                    [now.timeIntervalSince1970 - 86400])?.int("silent") ?? 0
            let start = (now.timeIntervalSince1970 / 86400).rounded(.down) * 86400 - 13 * 86400
            var days: [String: FleetSummary.Day] = [:]
            for row in try db.rows(
                "SELECT * FROM verdict_days WHERE day >= ?", [FleetIndex.utcDay(Date(timeIntervalSince1970: start))])
            {
                let day = try row.text("day")
                days[day] = FleetSummary.Day(
                    day: day, becameNoncompliant: try row.int("became_noncompliant"),
                    becameCompliant: try row.int("became_compliant"))
            }
            let trend = (0..<14).map { offset in
                let day = FleetIndex.utcDay(Date(timeIntervalSince1970: start + Double(offset) * 86400))
                return days[day] ?? FleetSummary.Day(day: day, becameNoncompliant: 0, becameCompliant: 0)
            }
            return FleetSummary(
                devices: byVerdict.values.reduce(0, +), byVerdict: byVerdict, byFailingRule: Array(rules.prefix(50)),
                byOS: Array(systems.prefix(50)), quarantined: quarantined, silent: silent, trend: trend,
                generatedAt: now)
        }
    }

    public func securityEvents(_ query: SecurityEventQuery) async throws -> [SecurityEvent] {
        try await read { db in
            var conditions: [String] = []
            var arguments: [any SQLBindable] = []
            if let device = query.deviceID {
                conditions.append("device_id = ?")
                arguments.append(device)
            }
            if let code = query.code {
                if code.hasSuffix("*") || code.hasSuffix(".") {
                    // A range on the (code, id) index: every code that starts with the prefix.
                    let prefix = code.hasSuffix("*") ? String(code.dropLast()) : code
                    conditions.append("code >= ? AND code < ?")
                    arguments += [prefix, prefix + "\u{10FFFF}"]
                } else {
                    conditions.append("code = ?")
                    arguments.append(code)
                }
            }
            if let before = query.before {
                conditions.append("id < ?")
                arguments.append(before)
            }
            arguments.append(min(max(query.limit, 1), 1000))
            return try db.rows(
                """
                SELECT * FROM security_events \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
                ORDER BY id DESC LIMIT ?
                """, arguments
            ).map(StoreCoding.securityEvent)
        }
    }
}
