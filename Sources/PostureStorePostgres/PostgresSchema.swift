/// The same tables as the SQLite store's (`SQLiteSchema` after v7), in PostgreSQL's types: identity keys
/// where SQLite has rowids, `COLLATE "C"` on what the fleet sorts and pages by (byte order, as SQLite),
/// and hostname search on `pg_trgm` instead of FTS5. Flags stay integers, so the scripts bind the same
/// values on both. Applied under an advisory lock, so collectors starting together migrate once.
enum PostgresSchema {
    static let lock: Int64 = 7_310_000

    /// Each version's statements, in order; `posture_schema` records the last applied.
    static let versions: [[String]] = [version1, version2, version3, version4]

    /// SSF stream status reasons and descriptions, and the subject format of a stream's SETs (streams made
    /// before keep the `uri` subjects their receivers were built for); the same as SQLite's v9.
    static let version4 = [
        "ALTER TABLE ssf_streams ADD COLUMN status_reason TEXT",
        "ALTER TABLE ssf_streams ADD COLUMN description TEXT",
        "ALTER TABLE ssf_streams ADD COLUMN subject_format TEXT NOT NULL DEFAULT 'uri'",
    ]

    /// The fleet's device IDs in the database's collation, as every other table's: a join or `IN` between
    /// columns of two collations cannot use the other side's index, and the planner read all 100,000 rows
    /// of `devices` or `fleet` for one page (25-30 ms; 2 ms after). Pages still order consistently: the
    /// index and the cursor's row comparison share the column's collation.
    static let version3 = [
        "ALTER TABLE fleet ALTER COLUMN device_id TYPE TEXT COLLATE \"default\"",
        "ANALYZE fleet",
    ]

    /// Attestation schema 2 (each distinct report part stored once) and attestations partitioned by the
    /// day they were received, so that retention drops whole days. The rows of version 1 are moved into
    /// the new table once its first partitions exist (`PostgresStore.migrate`).
    static let version2 = [
        """
        CREATE TABLE report_bodies (
            digest TEXT COLLATE "C" PRIMARY KEY, size INTEGER NOT NULL, body BYTEA NOT NULL,
            last_seen DOUBLE PRECISION NOT NULL)
        """,
        // Already deflated: PostgreSQL need not try to compress it again.
        "ALTER TABLE report_bodies ALTER COLUMN body SET STORAGE EXTERNAL",
        "CREATE INDEX report_bodies_seen ON report_bodies (last_seen)",
        "ALTER TABLE device_state ADD COLUMN report_digest TEXT COLLATE \"C\", ADD COLUMN journal_digest TEXT COLLATE \"C\"",
        "CREATE INDEX device_state_report ON device_state (report_digest)",
        "CREATE INDEX device_state_journal ON device_state (journal_digest)",
        "ALTER TABLE attestations RENAME TO attestations_v1",
        // No row ID: the key is (device_id, sequence), which the device's row lock keeps unique (a
        // partitioned table's unique index would have to include the day). The 8-byte columns first, so
        // that no padding is stored between them.
        """
        CREATE TABLE attestations (
            sequence BIGINT NOT NULL, issued_at DOUBLE PRECISION NOT NULL, received_at DOUBLE PRECISION NOT NULL,
            device_id TEXT NOT NULL REFERENCES devices(id), delivery TEXT NOT NULL,
            envelope BYTEA, signature BYTEA, jws TEXT, journal_counts TEXT,
            CHECK ((jws IS NULL) <> (envelope IS NULL))
        ) PARTITION BY RANGE (received_at)
        """,
        // Rows of days without a partition: each device's newest attestation when its day is dropped, and
        // anything received while no partition was made ahead. Retention deletes its rows one by one.
        "CREATE TABLE attestations_kept PARTITION OF attestations DEFAULT",
        // By device only: B-tree deduplication keeps one key per device and page, so the index costs a few
        // bytes per attestation instead of a whole (device, sequence) entry in half-full pages. A device's
        // history is read newest day first (`attestations(deviceID:limit:)`); the sequence is looked up only
        // for a report older than the device's last.
        "CREATE INDEX attestations_device ON attestations (device_id)",
        // Only attestations with journal events, which the signals rules sum over a window.
        "CREATE INDEX attestations_events ON attestations (issued_at) WHERE journal_counts IS NOT NULL",
    ]

    static let version1 = [
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        """
        CREATE TABLE tokens (
            id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, reusable INTEGER NOT NULL,
            allow_reenroll INTEGER NOT NULL, labels TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL, used_at DOUBLE PRECISION, uses INTEGER NOT NULL)
        """,
        """
        CREATE TABLE devices (
            id TEXT PRIMARY KEY, machine_id TEXT NOT NULL, hostname TEXT NOT NULL, labels TEXT NOT NULL,
            status TEXT NOT NULL, enrolled_at DOUBLE PRECISION NOT NULL, revoked_at DOUBLE PRECISION,
            last_sequence BIGINT NOT NULL, token_id TEXT NOT NULL REFERENCES tokens(id),
            key_thumbprint TEXT NOT NULL)
        """,
        "CREATE INDEX devices_machine_id ON devices (machine_id, status)",
        """
        CREATE TABLE certificates (
            serial TEXT PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices(id),
            not_before DOUBLE PRECISION NOT NULL, not_after DOUBLE PRECISION NOT NULL, pem TEXT NOT NULL,
            fingerprint TEXT)
        """,
        "CREATE INDEX certificates_device ON certificates (device_id)",
        "CREATE INDEX certificates_fingerprint ON certificates (fingerprint)",
        "CREATE INDEX certificates_not_after ON certificates (not_after)",
        """
        CREATE TABLE nonces (
            value TEXT PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices(id),
            issued_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION NOT NULL,
            first_used_at DOUBLE PRECISION, superseded_at DOUBLE PRECISION)
        """,
        "CREATE INDEX nonces_device ON nonces (device_id, superseded_at)",
        "CREATE INDEX nonces_superseded ON nonces (superseded_at)",
        """
        CREATE TABLE attestations (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices(id),
            sequence BIGINT NOT NULL, issued_at DOUBLE PRECISION NOT NULL, received_at DOUBLE PRECISION NOT NULL,
            delivery TEXT NOT NULL, jws TEXT NOT NULL, journal_counts TEXT, UNIQUE (device_id, sequence))
        """,
        "CREATE INDEX attestations_issued ON attestations (issued_at)",
        """
        CREATE TABLE device_state (
            device_id TEXT PRIMARY KEY REFERENCES devices(id), sequence BIGINT NOT NULL,
            issued_at DOUBLE PRECISION NOT NULL, received_at DOUBLE PRECISION NOT NULL, delivery TEXT NOT NULL,
            payload TEXT NOT NULL)
        """,
        """
        CREATE TABLE security_events (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, at DOUBLE PRECISION NOT NULL, device_id TEXT,
            code TEXT COLLATE "C" NOT NULL, message TEXT NOT NULL, peer TEXT)
        """,
        "CREATE INDEX security_events_at ON security_events (at)",
        "CREATE INDEX security_events_device ON security_events (device_id, id)",
        "CREATE INDEX security_events_code ON security_events (code, id)",
        """
        CREATE TABLE verdicts (
            device_id TEXT PRIMARY KEY REFERENCES devices(id), status TEXT NOT NULL, version TEXT NOT NULL,
            changed_at DOUBLE PRECISION NOT NULL, verdict TEXT NOT NULL, status_since DOUBLE PRECISION)
        """,
        """
        CREATE TABLE verdict_changes (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices(id),
            at DOUBLE PRECISION NOT NULL, previous_status TEXT, status TEXT NOT NULL, cause TEXT NOT NULL,
            verdict TEXT NOT NULL)
        """,
        "CREATE INDEX verdict_changes_device ON verdict_changes (device_id, id)",
        """
        CREATE TABLE operator_actions (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, at DOUBLE PRECISION NOT NULL,
            actor TEXT NOT NULL, action TEXT NOT NULL, device_id TEXT, target TEXT, reason TEXT NOT NULL)
        """,
        """
        CREATE TABLE quarantines (
            device_id TEXT PRIMARY KEY REFERENCES devices(id), actor TEXT NOT NULL, reason TEXT NOT NULL,
            at DOUBLE PRECISION NOT NULL)
        """,
        """
        CREATE TABLE waivers (
            id TEXT PRIMARY KEY, rule TEXT NOT NULL, device_id TEXT, label TEXT, reason TEXT NOT NULL,
            actor TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION NOT NULL,
            revoked_at DOUBLE PRECISION)
        """,
        """
        CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, name TEXT NOT NULL, scopes TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION, revoked_at DOUBLE PRECISION)
        """,
        """
        CREATE TABLE ssf_streams (
            id TEXT PRIMARY KEY, audience TEXT NOT NULL, delivery_method TEXT NOT NULL, endpoint_url TEXT,
            authorization_header TEXT, events_requested TEXT NOT NULL, algorithm TEXT NOT NULL,
            status TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, token_id TEXT NOT NULL)
        """,
        """
        CREATE TABLE ssf_outbox (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, stream_id TEXT NOT NULL REFERENCES ssf_streams(id),
            jti TEXT NOT NULL UNIQUE, set_jwt TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL,
            attempts INTEGER NOT NULL, next_attempt_at DOUBLE PRECISION NOT NULL, delivered_at DOUBLE PRECISION,
            last_error TEXT)
        """,
        "CREATE INDEX ssf_outbox_pending ON ssf_outbox (stream_id, delivered_at, id)",
        """
        CREATE TABLE audit_log (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, at DOUBLE PRECISION NOT NULL,
            kind TEXT NOT NULL, source_id BIGINT NOT NULL, entry TEXT NOT NULL, previous_hash TEXT NOT NULL,
            hash TEXT NOT NULL)
        """,
        "CREATE UNIQUE INDEX audit_log_source ON audit_log (kind, source_id)",
        """
        CREATE TABLE device_labels (
            device_id TEXT NOT NULL REFERENCES devices(id), key TEXT NOT NULL, value TEXT NOT NULL,
            PRIMARY KEY (device_id, key))
        """,
        "CREATE INDEX device_labels_value ON device_labels (key, value, device_id)",
        """
        CREATE TABLE verdict_failures (
            device_id TEXT NOT NULL REFERENCES devices(id), rule TEXT NOT NULL, PRIMARY KEY (device_id, rule))
        """,
        "CREATE INDEX verdict_failures_rule ON verdict_failures (rule, device_id)",
        """
        CREATE TABLE fleet (
            device_id TEXT COLLATE "C" PRIMARY KEY REFERENCES devices(id), state TEXT NOT NULL,
            hostname TEXT COLLATE "C" NOT NULL, enrolled_at DOUBLE PRECISION NOT NULL,
            verdict TEXT COLLATE "C" NOT NULL DEFAULT 'none', verdict_since DOUBLE PRECISION NOT NULL DEFAULT 0,
            os TEXT COLLATE "C" NOT NULL DEFAULT '', os_version TEXT COLLATE "C" NOT NULL DEFAULT '',
            last_seen DOUBLE PRECISION NOT NULL DEFAULT 0, quarantined INTEGER NOT NULL DEFAULT 0)
        """,
        "CREATE INDEX fleet_hostname ON fleet (state, hostname, device_id)",
        "CREATE INDEX fleet_verdict ON fleet (state, verdict, hostname, device_id)",
        "CREATE INDEX fleet_verdict_since ON fleet (state, verdict, verdict_since, device_id)",
        "CREATE INDEX fleet_since ON fleet (state, verdict_since, device_id)",
        "CREATE INDEX fleet_last_seen ON fleet (state, last_seen, device_id)",
        "CREATE INDEX fleet_enrolled ON fleet (state, enrolled_at, device_id)",
        "CREATE INDEX fleet_os ON fleet (state, os, os_version, hostname, device_id)",
        "CREATE INDEX fleet_hostname_trigrams ON fleet USING gin (hostname gin_trgm_ops)",
        """
        CREATE TABLE fleet_counts (
            dimension TEXT NOT NULL, key TEXT NOT NULL, devices INTEGER NOT NULL, PRIMARY KEY (dimension, key))
        """,
        """
        CREATE TABLE verdict_days (
            day TEXT PRIMARY KEY, became_noncompliant INTEGER NOT NULL, became_compliant INTEGER NOT NULL)
        """,
        "CREATE TABLE store_health (id INTEGER PRIMARY KEY, checked_at DOUBLE PRECISION NOT NULL)",
        """
        CREATE TABLE dashboard_sessions (
            id_hash TEXT PRIMARY KEY, credential_hash TEXT NOT NULL, name TEXT NOT NULL, csrf TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL, last_used DOUBLE PRECISION NOT NULL)
        """,
        "CREATE INDEX dashboard_sessions_credential ON dashboard_sessions (credential_hash, created)",
        "CREATE TABLE store_identity (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE store_leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL, until DOUBLE PRECISION NOT NULL)",
    ]
}
