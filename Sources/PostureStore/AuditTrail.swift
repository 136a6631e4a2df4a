import GRDB
import PostureModel

/// The tamper-evident audit trail. Every operator action, verdict change and agent enforcement report is
/// also appended, in the transaction that writes it, to `audit_log` as a hash chain:
/// `hash = SHA-256(previous_hash "\n" kind "\n" entry)`, where `entry` is the source row as canonical
/// JSON (columns sorted, exact stored values). `verifyAuditTrail()` recomputes the chain and compares it
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

        var table: String {
            switch self {
            case .operatorAction: "operator_actions"
            case .verdictChange: "verdict_changes"
            case .enforcement: "security_events"
            }
        }

        /// Which rows of `table` belong to the trail (refused attestations are security events, not audit).
        var filter: String { self == .enforcement ? "code LIKE 'enforcement.%'" : "1" }
    }

    static let schema = """
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY, at DOUBLE PRECISION NOT NULL, kind TEXT NOT NULL, source_id INTEGER NOT NULL,
            entry TEXT NOT NULL, previous_hash TEXT NOT NULL, hash TEXT NOT NULL);
        CREATE UNIQUE INDEX audit_log_source ON audit_log (kind, source_id);
        """

    /// Chains the source row just written (call inside its transaction).
    static func append(_ kind: Kind, sourceID: Int64, db: Database) throws {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT * FROM \(kind.table) WHERE id = ? AND \(kind.filter)", arguments: [sourceID])
        else { return }
        let previous = try String.fetchOne(db, sql: "SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1") ?? genesis
        let entry = canonical(row)
        try db.execute(
            sql: "INSERT INTO audit_log (at, kind, source_id, entry, previous_hash, hash) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [
                row["at"] as Double, kind.rawValue, sourceID, entry, previous,
                digest(previous: previous, kind: kind.rawValue, entry: entry),
            ])
    }

    /// Schema v3: the table, and the chain over what earlier versions stored, oldest first.
    static func migrate(_ db: Database) throws {
        try db.execute(sql: schema)
        var rows: [(at: Double, kind: Kind, id: Int64)] = []
        for kind in Kind.allCases {
            for row in try Row.fetchAll(db, sql: "SELECT id, at FROM \(kind.table) WHERE \(kind.filter)") {
                rows.append((row["at"], kind, row["id"]))
            }
        }
        for row in rows.sorted(by: { ($0.at, $0.kind.rawValue, $0.id) < ($1.at, $1.kind.rawValue, $1.id) }) {
            try append(row.kind, sourceID: row.id, db: db)
        }
    }

    static func verify(_ db: Database) throws -> AuditVerification {
        var problems: [String] = []
        var expected = genesis
        var count = 0
        var chained: [Kind: Set<Int64>] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT * FROM audit_log ORDER BY id") {
            count += 1
            let id: Int64 = row["id"]
            let kindText: String = row["kind"]
            let sourceID: Int64 = row["source_id"]
            let entry: String = row["entry"]
            let previous: String = row["previous_hash"]
            let hash: String = row["hash"]
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
            let source = try Row.fetchOne(
                db, sql: "SELECT * FROM \(kind.table) WHERE id = ? AND \(kind.filter)", arguments: [sourceID])
            if let source {
                if canonical(source) != entry {
                    problems.append("\(name): \(kind.table) row \(sourceID) was changed after it was recorded")
                }
            } else {
                problems.append("\(name): \(kind.table) row \(sourceID) was removed")
            }
        }
        for kind in Kind.allCases {
            let ids = try Int64.fetchAll(db, sql: "SELECT id FROM \(kind.table) WHERE \(kind.filter) ORDER BY id")
            for id in ids where !(chained[kind]?.contains(id) ?? false) {
                problems.append("\(kind.table) row \(id): not in the audit trail (written around it)")
            }
        }
        return AuditVerification(entries: count, head: expected, problems: problems)
    }

    static func digest(previous: String, kind: String, entry: String) -> String {
        sha256Hex(Array("\(previous)\n\(kind)\n\(entry)".utf8))
    }

    /// The row as JSON with its columns sorted and values as stored: the same bytes for the same row.
    static func canonical(_ row: Row) -> String {
        let fields = zip(row.columnNames, row.databaseValues).sorted { $0.0 < $1.0 }.map { name, value in
            let text: String
            switch value.storage {
            case .null: text = "null"
            case .int64(let number): text = String(number)
            case .double(let number): text = "\(number)"
            case .string(let string): text = quoted(string)
            case .blob(let data): text = quoted(Hex.encode(Array(data)))
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
