import GRDB

/// What fleet queries filter and sort on, kept beside the rows it comes from so a query over 100,000
/// devices reads indexes instead of decoding JSON: labels one row per key, failing rules one row per
/// rule, the OS from the newest report (generated columns), and since when a verdict has its status.
/// Written in the transactions that write the source rows; schema v4 builds it from existing rows.
enum FleetIndex {
    static let schema = """
        CREATE TABLE device_labels (
            device_id TEXT NOT NULL REFERENCES devices(id), key TEXT NOT NULL, value TEXT NOT NULL,
            PRIMARY KEY (device_id, key));
        CREATE INDEX device_labels_value ON device_labels (key, value);
        INSERT INTO device_labels (device_id, key, value)
            SELECT d.id, l.key, l.value FROM devices d, json_each(d.labels) l;
        CREATE TABLE verdict_failures (
            device_id TEXT NOT NULL REFERENCES devices(id), rule TEXT NOT NULL, PRIMARY KEY (device_id, rule));
        CREATE INDEX verdict_failures_rule ON verdict_failures (rule);
        INSERT OR IGNORE INTO verdict_failures (device_id, rule)
            SELECT v.device_id, json_extract(f.value, '$.rule') FROM verdicts v, json_each(v.verdict, '$.failing') f;
        ALTER TABLE verdicts ADD COLUMN status_since DOUBLE PRECISION;
        UPDATE verdicts SET status_since = changed_at;
        CREATE INDEX verdicts_status ON verdicts (status, status_since);
        ALTER TABLE device_state ADD COLUMN os_id TEXT
            GENERATED ALWAYS AS (json_extract(payload, '$.report.os.osRelease.value.ID')) VIRTUAL;
        ALTER TABLE device_state ADD COLUMN os_version TEXT
            GENERATED ALWAYS AS (json_extract(payload, '$.report.os.osRelease.value.VERSION_ID')) VIRTUAL;
        CREATE INDEX device_state_os ON device_state (os_id, os_version);
        CREATE INDEX device_state_received ON device_state (received_at);
        CREATE INDEX devices_hostname ON devices (hostname, id);
        CREATE INDEX devices_enrolled ON devices (enrolled_at, id);
        CREATE INDEX security_events_device ON security_events (device_id, id);
        CREATE INDEX verdict_changes_at ON verdict_changes (at);
        """

    /// After a device row is inserted.
    static func indexLabels(deviceID: String, labels: String, db: Database) throws {
        try db.execute(
            sql: "INSERT INTO device_labels (device_id, key, value) SELECT ?, key, value FROM json_each(?)",
            arguments: [deviceID, labels])
    }

    /// After a verdict is saved: its failing rules replace the device's previous ones.
    static func indexFailures(deviceID: String, verdict: String, db: Database) throws {
        try db.execute(sql: "DELETE FROM verdict_failures WHERE device_id = ?", arguments: [deviceID])
        try db.execute(
            sql: """
                INSERT OR IGNORE INTO verdict_failures (device_id, rule)
                SELECT ?, json_extract(value, '$.rule') FROM json_each(?, '$.failing')
                """,
            arguments: [deviceID, verdict])
    }
}
