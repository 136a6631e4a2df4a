import GRDB

/// The SQLite schema's history, one migration per released version; what they build is the same set of
/// tables as `PostgresSchema`. Times are seconds since the epoch.
enum SQLiteSchema {
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

    /// v9: SSF stream status reasons and descriptions, and the subject format of a stream's SETs (streams
    /// made before keep the `uri` subjects their receivers were built for).
    static let streamSettings = """
        ALTER TABLE ssf_streams ADD COLUMN status_reason TEXT;
        ALTER TABLE ssf_streams ADD COLUMN description TEXT;
        ALTER TABLE ssf_streams ADD COLUMN subject_format TEXT NOT NULL DEFAULT 'uri';
        """

    /// v10: just-in-time access: each grant (an SSH certificate's serial is its id) and the append-only
    /// events of requests, grants, refusals and revocations that the audit trail chains.
    /// Where each device key lives, as enrollment proved it, and the TPM's identity; the same as PostgreSQL's
    /// version 6.
    static let tpmIdentity = """
        ALTER TABLE devices ADD COLUMN key_protection TEXT NOT NULL DEFAULT 'software';
        ALTER TABLE devices ADD COLUMN tpm TEXT;
        """

    static let access = """
        CREATE TABLE access_grants (
            id INTEGER PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices(id), user_name TEXT NOT NULL,
            grant_name TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL, requested_at DOUBLE PRECISION NOT NULL,
            valid_from DOUBLE PRECISION, valid_until DOUBLE PRECISION, detail TEXT NOT NULL);
        CREATE INDEX access_grants_until ON access_grants (kind, valid_until);
        CREATE INDEX access_grants_device ON access_grants (device_id, id);
        CREATE TABLE access_events (
            id INTEGER PRIMARY KEY, at DOUBLE PRECISION NOT NULL, device_id TEXT NOT NULL, user_name TEXT NOT NULL,
            grant_name TEXT NOT NULL, grant_id INTEGER, event TEXT NOT NULL, actor TEXT NOT NULL, detail TEXT NOT NULL);
        CREATE INDEX access_events_device ON access_events (device_id, id);
        """

    /// v3: the audit trail's table (its chain over earlier rows: `StoreMigrations.chainAuditTrail`).
    static let auditLog = """
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY, at DOUBLE PRECISION NOT NULL, kind TEXT NOT NULL, source_id INTEGER NOT NULL,
            entry TEXT NOT NULL, previous_hash TEXT NOT NULL, hash TEXT NOT NULL);
        CREATE UNIQUE INDEX audit_log_source ON audit_log (kind, source_id);
        """

    /// v4: the fleet index (`FleetIndex`), kept by the store's scripts since v7 (by triggers before).
    static let fleetTables = """
        CREATE TABLE device_labels (
            device_id TEXT NOT NULL REFERENCES devices(id), key TEXT NOT NULL, value TEXT NOT NULL,
            PRIMARY KEY (device_id, key));
        CREATE INDEX device_labels_value ON device_labels (key, value, device_id);
        CREATE TABLE verdict_failures (
            device_id TEXT NOT NULL REFERENCES devices(id), rule TEXT NOT NULL, PRIMARY KEY (device_id, rule));
        CREATE INDEX verdict_failures_rule ON verdict_failures (rule, device_id);
        ALTER TABLE verdicts ADD COLUMN status_since DOUBLE PRECISION;
        UPDATE verdicts SET status_since = COALESCE(
            (SELECT MIN(c.at) FROM verdict_changes c WHERE c.device_id = verdicts.device_id
                AND c.id > COALESCE((SELECT MAX(p.id) FROM verdict_changes p
                    WHERE p.device_id = verdicts.device_id AND p.status IS NOT verdicts.status), 0)),
            changed_at);
        CREATE TABLE fleet (
            device_id TEXT PRIMARY KEY REFERENCES devices(id), state TEXT NOT NULL, hostname TEXT NOT NULL,
            enrolled_at DOUBLE PRECISION NOT NULL, verdict TEXT NOT NULL DEFAULT 'none',
            verdict_since DOUBLE PRECISION NOT NULL DEFAULT 0, os TEXT NOT NULL DEFAULT '',
            os_version TEXT NOT NULL DEFAULT '', last_seen DOUBLE PRECISION NOT NULL DEFAULT 0,
            quarantined INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX fleet_hostname ON fleet (state, hostname, device_id);
        CREATE INDEX fleet_verdict ON fleet (state, verdict, hostname, device_id);
        CREATE INDEX fleet_verdict_since ON fleet (state, verdict, verdict_since, device_id);
        CREATE INDEX fleet_since ON fleet (state, verdict_since, device_id);
        CREATE INDEX fleet_last_seen ON fleet (state, last_seen, device_id);
        CREATE INDEX fleet_enrolled ON fleet (state, enrolled_at, device_id);
        CREATE INDEX fleet_os ON fleet (state, os, os_version, hostname, device_id);
        CREATE TABLE fleet_counts (
            dimension TEXT NOT NULL, key TEXT NOT NULL, devices INTEGER NOT NULL, PRIMARY KEY (dimension, key));
        CREATE TABLE verdict_days (
            day TEXT PRIMARY KEY, became_noncompliant INTEGER NOT NULL, became_compliant INTEGER NOT NULL);
        CREATE INDEX security_events_device ON security_events (device_id, id);
        CREATE INDEX security_events_code ON security_events (code, id);
        CREATE VIRTUAL TABLE fleet_hostnames USING fts5(hostname, device_id UNINDEXED, tokenize = 'trigram');
        """

    /// Everything derived, derived again from the source rows; counts recomputed from scratch.
    static let rebuildFleet = """
        DELETE FROM verdict_failures;
        DELETE FROM device_labels;
        DELETE FROM fleet;
        DELETE FROM fleet_hostnames;
        INSERT INTO fleet_hostnames (hostname, device_id) SELECT hostname, id FROM devices;
        INSERT INTO fleet (device_id, state, hostname, enrolled_at, verdict, verdict_since, os, os_version,
                           last_seen, quarantined)
            SELECT d.id, d.status, d.hostname, d.enrolled_at, COALESCE(v.status, 'none'),
                   COALESCE(v.status_since, v.changed_at, 0),
                   CASE WHEN json_valid(s.payload)
                       THEN COALESCE(json_extract(s.payload, '$.report.os.osRelease.value.ID'), '') ELSE '' END,
                   CASE WHEN json_valid(s.payload)
                       THEN COALESCE(json_extract(s.payload, '$.report.os.osRelease.value.VERSION_ID'), '') ELSE '' END,
                   COALESCE(s.received_at, 0), q.device_id IS NOT NULL
            FROM devices d LEFT JOIN verdicts v ON v.device_id = d.id LEFT JOIN device_state s ON s.device_id = d.id
                LEFT JOIN quarantines q ON q.device_id = d.id;
        INSERT INTO device_labels (device_id, key, value)
            SELECT d.id, l.key, l.value FROM devices d, json_each(d.labels) l WHERE json_valid(d.labels);
        INSERT OR IGNORE INTO verdict_failures (device_id, rule)
            SELECT v.device_id, json_extract(f.value, '$.rule') FROM verdicts v, json_each(v.verdict, '$.failing') f
            WHERE json_valid(v.verdict) AND json_extract(f.value, '$.rule') IS NOT NULL;
        DELETE FROM fleet_counts;
        INSERT INTO fleet_counts (dimension, key, devices)
            SELECT 'verdict', verdict, COUNT(*) FROM fleet WHERE state = 'active' GROUP BY verdict;
        INSERT INTO fleet_counts (dimension, key, devices)
            SELECT 'os', TRIM(os || ' ' || os_version), COUNT(*) FROM fleet WHERE state = 'active'
            GROUP BY TRIM(os || ' ' || os_version);
        INSERT INTO fleet_counts (dimension, key, devices)
            SELECT 'quarantined', 'yes', COUNT(*) FROM fleet WHERE state = 'active' AND quarantined = 1;
        INSERT INTO fleet_counts (dimension, key, devices)
            SELECT 'rule', f.rule, COUNT(*) FROM verdict_failures f JOIN fleet USING (device_id)
            WHERE fleet.state = 'active' GROUP BY f.rule;
        DELETE FROM verdict_days;
        INSERT INTO verdict_days (day, became_noncompliant, became_compliant)
            SELECT date(at, 'unixepoch'),
                   SUM(status = 'noncompliant' AND COALESCE(previous_status, '') != 'noncompliant'),
                   SUM(status = 'compliant' AND COALESCE(previous_status, '') != 'compliant')
            FROM verdict_changes GROUP BY date(at, 'unixepoch');
        """

    /// v7: the fleet index is kept by the store's scripts on both backends; v4 to v6 kept it by triggers.
    static let dropFleetTriggers = """
        DROP TRIGGER IF EXISTS fleet_device_added; DROP TRIGGER IF EXISTS fleet_device_state;
        DROP TRIGGER IF EXISTS fleet_verdict_added; DROP TRIGGER IF EXISTS fleet_verdict_changed;
        DROP TRIGGER IF EXISTS fleet_report_added; DROP TRIGGER IF EXISTS fleet_report_changed;
        DROP TRIGGER IF EXISTS fleet_quarantined; DROP TRIGGER IF EXISTS fleet_released;
        DROP TRIGGER IF EXISTS fleet_count_added; DROP TRIGGER IF EXISTS fleet_count_changed;
        DROP TRIGGER IF EXISTS fleet_failure_added; DROP TRIGGER IF EXISTS fleet_failure_removed;
        DROP TRIGGER IF EXISTS fleet_verdict_day;
        """

    /// Attestation schema 2: each distinct report part stored once; per attestation, its envelope and
    /// signature (`jws` only for schema 1). Rebuilt because SQLite cannot drop `jws`'s NOT NULL in place.
    static let reportBodies = """
        CREATE TABLE report_bodies (
            digest TEXT PRIMARY KEY, size INTEGER NOT NULL, body BLOB NOT NULL, last_seen DOUBLE PRECISION NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX report_bodies_seen ON report_bodies (last_seen);
        ALTER TABLE device_state ADD COLUMN report_digest TEXT;
        ALTER TABLE device_state ADD COLUMN journal_digest TEXT;
        CREATE INDEX device_state_report ON device_state (report_digest);
        CREATE INDEX device_state_journal ON device_state (journal_digest);
        CREATE TABLE attestations_v8 (
            id INTEGER PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices(id), sequence BIGINT NOT NULL,
            issued_at DOUBLE PRECISION NOT NULL, received_at DOUBLE PRECISION NOT NULL, delivery TEXT NOT NULL,
            jws TEXT, envelope BLOB, signature BLOB, journal_counts TEXT, UNIQUE (device_id, sequence),
            CHECK ((jws IS NULL) <> (envelope IS NULL)));
        INSERT INTO attestations_v8 (id, device_id, sequence, issued_at, received_at, delivery, jws, journal_counts)
            SELECT id, device_id, sequence, issued_at, received_at, delivery, jws, journal_counts FROM attestations;
        DROP TABLE attestations;
        ALTER TABLE attestations_v8 RENAME TO attestations;
        CREATE INDEX attestations_issued ON attestations (issued_at);
        """

    static let verdictPulls = """
        CREATE TABLE verdict_pulls (device_id TEXT PRIMARY KEY, pulled_at DOUBLE PRECISION NOT NULL) WITHOUT ROWID;
        CREATE INDEX verdict_pulls_at ON verdict_pulls (pulled_at);
        """
}
