import GRDB
import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The tables, kept in SQL that SQLite and PostgreSQL both read. Times are seconds since the epoch.
enum StoreSchema {
    static let version1 = """
        CREATE TABLE tokens (
            id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, reusable BOOLEAN NOT NULL,
            allow_reenroll BOOLEAN NOT NULL, labels TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL, used_at DOUBLE PRECISION, uses INTEGER NOT NULL);
        CREATE TABLE devices (
            id TEXT PRIMARY KEY, machine_id TEXT NOT NULL, hostname TEXT NOT NULL, labels TEXT NOT NULL,
            status TEXT NOT NULL, enrolled_at DOUBLE PRECISION NOT NULL, revoked_at DOUBLE PRECISION,
            last_sequence BIGINT NOT NULL, token_id TEXT NOT NULL REFERENCES tokens(id),
            key_thumbprint TEXT NOT NULL);
        CREATE INDEX devices_machine_id ON devices (machine_id, status);
        CREATE TABLE certificates (
            serial TEXT PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices(id),
            not_before DOUBLE PRECISION NOT NULL, not_after DOUBLE PRECISION NOT NULL, pem TEXT NOT NULL);
        CREATE INDEX certificates_device ON certificates (device_id);
        CREATE TABLE nonces (
            value TEXT PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices(id),
            issued_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION NOT NULL,
            first_used_at DOUBLE PRECISION, superseded_at DOUBLE PRECISION);
        CREATE INDEX nonces_device ON nonces (device_id, superseded_at);
        CREATE TABLE attestations (
            id INTEGER PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices(id), sequence BIGINT NOT NULL,
            issued_at DOUBLE PRECISION NOT NULL, received_at DOUBLE PRECISION NOT NULL, delivery TEXT NOT NULL,
            jws TEXT NOT NULL, UNIQUE (device_id, sequence));
        CREATE TABLE device_state (
            device_id TEXT PRIMARY KEY REFERENCES devices(id), sequence BIGINT NOT NULL,
            issued_at DOUBLE PRECISION NOT NULL, received_at DOUBLE PRECISION NOT NULL, delivery TEXT NOT NULL,
            payload TEXT NOT NULL);
        CREATE TABLE security_events (
            id INTEGER PRIMARY KEY, at DOUBLE PRECISION NOT NULL, device_id TEXT, code TEXT NOT NULL,
            message TEXT NOT NULL, peer TEXT);
        """

    /// Verdicts, operator actions, waivers, API tokens, Shared Signals streams and their outbox.
    static let version2 = """
        ALTER TABLE attestations ADD COLUMN journal_counts TEXT;
        CREATE INDEX attestations_issued ON attestations (issued_at);
        CREATE TABLE verdicts (
            device_id TEXT PRIMARY KEY REFERENCES devices(id), status TEXT NOT NULL, version TEXT NOT NULL,
            changed_at DOUBLE PRECISION NOT NULL, verdict TEXT NOT NULL);
        CREATE TABLE verdict_changes (
            id INTEGER PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices(id), at DOUBLE PRECISION NOT NULL,
            previous_status TEXT, status TEXT NOT NULL, cause TEXT NOT NULL, verdict TEXT NOT NULL);
        CREATE INDEX verdict_changes_device ON verdict_changes (device_id, id);
        CREATE TABLE operator_actions (
            id INTEGER PRIMARY KEY, at DOUBLE PRECISION NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
            device_id TEXT, target TEXT, reason TEXT NOT NULL);
        CREATE TABLE quarantines (
            device_id TEXT PRIMARY KEY REFERENCES devices(id), actor TEXT NOT NULL, reason TEXT NOT NULL,
            at DOUBLE PRECISION NOT NULL);
        CREATE TABLE waivers (
            id TEXT PRIMARY KEY, rule TEXT NOT NULL, device_id TEXT, label TEXT, reason TEXT NOT NULL,
            actor TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION NOT NULL,
            revoked_at DOUBLE PRECISION);
        CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, name TEXT NOT NULL, scopes TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION, revoked_at DOUBLE PRECISION);
        CREATE TABLE ssf_streams (
            id TEXT PRIMARY KEY, audience TEXT NOT NULL, delivery_method TEXT NOT NULL, endpoint_url TEXT,
            authorization_header TEXT, events_requested TEXT NOT NULL, algorithm TEXT NOT NULL,
            status TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, token_id TEXT NOT NULL);
        CREATE TABLE ssf_outbox (
            id INTEGER PRIMARY KEY, stream_id TEXT NOT NULL REFERENCES ssf_streams(id), jti TEXT NOT NULL UNIQUE,
            set_jwt TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, attempts INTEGER NOT NULL,
            next_attempt_at DOUBLE PRECISION NOT NULL, delivered_at DOUBLE PRECISION, last_error TEXT);
        CREATE INDEX ssf_outbox_pending ON ssf_outbox (stream_id, delivered_at, id);
        """
}

/// Row ↔ record conversions.
enum StoreCoding {
    static func json(_ labels: [String: String]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(labels), as: UTF8.self)
    }

    static func labels(_ text: String) throws -> [String: String] {
        try JSONDecoder().decode([String: String].self, from: Data(text.utf8))
    }

    static func token(_ row: Row) throws -> TokenRecord {
        TokenRecord(
            id: row["id"], hash: row["hash"], reusable: row["reusable"], allowReenroll: row["allow_reenroll"],
            labels: try labels(row["labels"]), createdAt: Date(timeIntervalSince1970: row["created_at"]),
            expiresAt: Date(timeIntervalSince1970: row["expires_at"]),
            usedAt: (row["used_at"] as Double?).map(Date.init(timeIntervalSince1970:)), uses: row["uses"])
    }

    static func device(_ row: Row) throws -> DeviceRecord {
        DeviceRecord(
            id: row["id"], machineID: row["machine_id"], hostname: row["hostname"], labels: try labels(row["labels"]),
            status: DeviceStatus(rawValue: row["status"]) ?? .revoked,
            enrolledAt: Date(timeIntervalSince1970: row["enrolled_at"]),
            revokedAt: (row["revoked_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
            lastSequence: UInt64(clamping: row["last_sequence"] as Int64), keyThumbprint: row["key_thumbprint"])
    }
}
