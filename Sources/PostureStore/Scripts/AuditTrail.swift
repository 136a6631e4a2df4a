import PostureModel

/// The tamper-evident audit trail. Every operator action, verdict change and agent enforcement report is
/// also appended, in the transaction that writes it, to `audit_log` as a hash chain:
/// `hash = SHA-256(previous_hash "\n" kind "\n" entry)`, where `entry` is the source record as canonical
/// JSON: its fields by column name, sorted, each an integer, a number as Swift prints a Double, a string
/// or null. Both backends store the same types, so a trail verifies the same on SQLite and PostgreSQL,
/// and one migrated from one to the other stays valid. `verifyAuditTrail()` recomputes the chain and compares it
/// with the source tables, so an edited, removed or reordered entry, or a source row edited, removed or
/// inserted around the trail, is found and named. The head hash, noted elsewhere (`--expect-head`),
/// also catches the removal of the newest entries.
public struct AuditVerification: Sendable, Equatable {
    public var entries: Int
    /// The newest entry's hash (the genesis value of 64 zeros for an empty trail).
    public var head: String
    /// What is wrong, entry by entry, oldest first; empty when the trail is intact.
    public var problems: [String]
}

enum AuditTrail {
    static let genesis = String(repeating: "0", count: 64)

    /// What is chained, and where each kind's source rows live.
    enum Kind: String, CaseIterable {
        case operatorAction = "operator-action"
        case verdictChange = "verdict-change"
        case enforcement
        case access

        var table: String {
            switch self {
            case .operatorAction: "operator_actions"
            case .verdictChange: "verdict_changes"
            case .enforcement: "security_events"
            case .access: "access_events"
            }
        }

        /// The record's fields: every column of its table, so the canonical entry is the whole record.
        var columns: String {
            switch self {
            case .operatorAction: "id, at, actor, action, device_id, target, reason"
            case .verdictChange: "id, device_id, at, previous_status, status, cause, verdict"
            case .enforcement: "id, at, device_id, code, message, peer"
            case .access: "id, at, device_id, user_name, grant_name, grant_id, event, actor, detail"
            }
        }

        /// Which rows of `table` belong to the trail (refused attestations are security events, not audit).
        var filter: String { self == .enforcement ? "code LIKE 'enforcement.%'" : "1 = 1" }
    }

    /// Chains the source row just written (call inside its transaction). On PostgreSQL the chain's head
    /// is locked first, so concurrent writers on several collectors extend one chain, one at a time.
    static func append(_ kind: Kind, sourceID: Int64, _ db: any SQLExecutor) throws {
        guard
            let row = try db.row(
                "SELECT \(kind.columns) FROM \(kind.table) WHERE id = ? AND \(kind.filter)", [sourceID])
        else { return }
        try db.serialize(.auditChain)
        let previous =
            try db.row("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1").map { try $0.text("hash") } ?? genesis
        let entry = canonical(row)
        try db.execute(
            "INSERT INTO audit_log (at, kind, source_id, entry, previous_hash, hash) VALUES (?, ?, ?, ?, ?, ?)",
            [
                try row.double("at"), kind.rawValue, sourceID, entry, previous,
                digest(previous: previous, kind: kind.rawValue, entry: entry),
            ])
    }

    /// The chain over rows that have none yet, oldest first (SQLite schema v3, for what earlier versions
    /// stored).
    static func chainExisting(_ db: any SQLExecutor) throws {
        var rows: [(at: Double, kind: Kind, id: Int64)] = []
        for kind in Kind.allCases where kind != .access {  // access_events came with v10
            for row in try db.rows("SELECT id, at FROM \(kind.table) WHERE \(kind.filter)") {
                rows.append((try row.double("at"), kind, try row.int64("id")))
            }
        }
        for row in rows.sorted(by: { ($0.at, $0.kind.rawValue, $0.id) < ($1.at, $1.kind.rawValue, $1.id) }) {
            try append(row.kind, sourceID: row.id, db)
        }
    }

    static func verify(_ db: any SQLExecutor) throws -> AuditVerification {
        var problems: [String] = []
        var expected = genesis
        var count = 0
        var chained: [Kind: Set<Int64>] = [:]
        for row in try db.rows("SELECT * FROM audit_log ORDER BY id") {
            count += 1
            let id = try row.int64("id")
            let kindText = try row.text("kind")
            let sourceID = try row.int64("source_id")
            let entry = try row.text("entry")
            let previous = try row.text("previous_hash")
            let hash = try row.text("hash")
            let name = "audit entry \(id) (\(kindText), source row \(sourceID))"
            if previous != expected {
                problems.append("\(name): does not follow the entry before it (an entry was removed or reordered)")
            }
            if digest(previous: previous, kind: kindText, entry: entry) != hash {
                problems.append("\(name): its content does not match its hash (the entry was edited)")
            }
            expected = hash
            guard let kind = Kind(rawValue: kindText) else {
                problems.append("\(name): unknown kind '\(kindText)'")
                continue
            }
            chained[kind, default: []].insert(sourceID)
            if let source = try db.row(
                "SELECT \(kind.columns) FROM \(kind.table) WHERE id = ? AND \(kind.filter)", [sourceID])
            {
                if canonical(source) != entry {
                    problems.append("\(name): \(kind.table) row \(sourceID) was changed after it was recorded")
                }
            } else {
                problems.append("\(name): \(kind.table) row \(sourceID) was removed")
            }
        }
        for kind in Kind.allCases {
            for row in try db.rows("SELECT id FROM \(kind.table) WHERE \(kind.filter) ORDER BY id") {
                let id = try row.int64("id")
                if !(chained[kind]?.contains(id) ?? false) {
                    problems.append("\(kind.table) row \(id): not in the audit trail (written around it)")
                }
            }
        }
        return AuditVerification(entries: count, head: expected, problems: problems)
    }

    static func digest(previous: String, kind: String, entry: String) -> String {
        sha256Hex(Array("\(previous)\n\(kind)\n\(entry)".utf8))
    }

    /// The record as JSON with its fields sorted: the same bytes for the same record on either backend.
    static func canonical(_ row: SQLRow) -> String {
        let fields = zip(row.columns, row.values).sorted { $0.0 < $1.0 }.map { name, value in
            let text: String
            switch value {
            case .null: text = "null"
            case .integer(let number): text = String(number)
            case .real(let number): text = "\(number)"
            case .text(let string): text = quoted(string)
            case .blob(let data): text = quoted(Hex.encode(data))
            }
            return "\(quoted(name)):\(text)"
        }
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out +=
                    "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                    + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
