import GRDB

/// What fleet queries filter, sort and count on, kept current by triggers on the source tables, so any
/// writer (collector, CLI, an import) keeps it right and a query over 100,000 devices reads one narrow
/// table through an index instead of joining and decoding JSON:
/// - `fleet`: one row per device with its state, hostname, verdict and since when, OS, last report time
///   and quarantine; indexed for each filter and sort of the device list.
/// - `device_labels`, `verdict_failures`: labels and failing rules, one row each.
/// - `fleet_hostnames`: a trigram index (FTS5), so "hostname contains" does not scan every hostname.
/// - `fleet_counts`: active devices by verdict, OS, failing rule and quarantine, counted as rows change,
///   so the summary reads a few rows; `verdict_days`: verdict changes per UTC day.
/// `rebuild` derives it all again from the source rows (schema v4 runs it once for existing stores).
enum FleetIndex {
    static let tables = """
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

    /// JSON written by the collector itself, read defensively: a malformed value yields '' rather than
    /// aborting the transaction that stores an accepted attestation.
    static let osID =
        "CASE WHEN json_valid(NEW.payload) THEN COALESCE(json_extract(NEW.payload, '$.report.os.osRelease.value.ID'), '') ELSE '' END"
    static let osVersion =
        "CASE WHEN json_valid(NEW.payload) THEN COALESCE(json_extract(NEW.payload, '$.report.os.osRelease.value.VERSION_ID'), '') ELSE '' END"
    /// In triggers, `ON CONFLICT DO NOTHING`, never `INSERT OR IGNORE`: a trigger fired by an upsert
    /// (`saveVerdict`) runs with ABORT, which overrides OR IGNORE, so a rule still failing would abort the
    /// verdict's save. An upsert clause keeps its own conflict handling.
    static let failingRules = """
        SELECT NEW.device_id, json_extract(value, '$.rule') FROM json_each(
            CASE WHEN json_valid(NEW.verdict) THEN NEW.verdict ELSE '{}' END, '$.failing')
        WHERE json_extract(value, '$.rule') IS NOT NULL
        """
    static let addCounts = "ON CONFLICT (dimension, key) DO UPDATE SET devices = devices + excluded.devices"

    static let triggers = """
        CREATE TRIGGER fleet_device_added AFTER INSERT ON devices BEGIN
            INSERT INTO fleet (device_id, state, hostname, enrolled_at)
                VALUES (NEW.id, NEW.status, NEW.hostname, NEW.enrolled_at);
            INSERT INTO fleet_hostnames (hostname, device_id) VALUES (NEW.hostname, NEW.id);
            INSERT INTO device_labels (device_id, key, value)
                SELECT NEW.id, key, value FROM json_each(CASE WHEN json_valid(NEW.labels) THEN NEW.labels ELSE '{}' END);
        END;
        CREATE TRIGGER fleet_device_state AFTER UPDATE OF status ON devices WHEN OLD.status IS NOT NEW.status BEGIN
            UPDATE fleet SET state = NEW.status WHERE device_id = NEW.id;
        END;
        CREATE TRIGGER fleet_verdict_added AFTER INSERT ON verdicts BEGIN
            UPDATE fleet SET verdict = NEW.status, verdict_since = COALESCE(NEW.status_since, NEW.changed_at)
                WHERE device_id = NEW.device_id;
            INSERT INTO verdict_failures (device_id, rule) \(failingRules) ON CONFLICT DO NOTHING;
        END;
        CREATE TRIGGER fleet_verdict_changed AFTER UPDATE ON verdicts BEGIN
            UPDATE fleet SET verdict = NEW.status, verdict_since = COALESCE(NEW.status_since, NEW.changed_at)
                WHERE device_id = NEW.device_id;
            DELETE FROM verdict_failures WHERE device_id = NEW.device_id
                AND rule NOT IN (SELECT json_extract(value, '$.rule') FROM json_each(
                    CASE WHEN json_valid(NEW.verdict) THEN NEW.verdict ELSE '{}' END, '$.failing')
                    WHERE json_extract(value, '$.rule') IS NOT NULL);
            INSERT INTO verdict_failures (device_id, rule) \(failingRules) ON CONFLICT DO NOTHING;
        END;
        CREATE TRIGGER fleet_report_added AFTER INSERT ON device_state BEGIN
            UPDATE fleet SET last_seen = NEW.received_at, os = \(osID), os_version = \(osVersion)
                WHERE device_id = NEW.device_id;
        END;
        CREATE TRIGGER fleet_report_changed AFTER UPDATE ON device_state BEGIN
            UPDATE fleet SET last_seen = NEW.received_at, os = \(osID), os_version = \(osVersion)
                WHERE device_id = NEW.device_id;
        END;
        CREATE TRIGGER fleet_quarantined AFTER INSERT ON quarantines BEGIN
            UPDATE fleet SET quarantined = 1 WHERE device_id = NEW.device_id;
        END;
        CREATE TRIGGER fleet_released AFTER DELETE ON quarantines BEGIN
            UPDATE fleet SET quarantined = 0 WHERE device_id = OLD.device_id;
        END;
        CREATE TRIGGER fleet_count_added AFTER INSERT ON fleet WHEN NEW.state = 'active' BEGIN
            INSERT INTO fleet_counts (dimension, key, devices)
                VALUES ('verdict', NEW.verdict, 1), ('os', TRIM(NEW.os || ' ' || NEW.os_version), 1),
                       ('quarantined', 'yes', NEW.quarantined)
                \(addCounts);
        END;
        CREATE TRIGGER fleet_count_changed AFTER UPDATE OF state, verdict, os, os_version, quarantined ON fleet
        WHEN (OLD.state = 'active' OR NEW.state = 'active') AND (OLD.state IS NOT NEW.state
            OR OLD.verdict IS NOT NEW.verdict OR OLD.os IS NOT NEW.os OR OLD.os_version IS NOT NEW.os_version
            OR OLD.quarantined IS NOT NEW.quarantined) BEGIN
            INSERT INTO fleet_counts (dimension, key, devices)
                SELECT d, k, n FROM (SELECT 'verdict' AS d, OLD.verdict AS k, -1 AS n
                    UNION ALL SELECT 'os', TRIM(OLD.os || ' ' || OLD.os_version), -1
                    UNION ALL SELECT 'quarantined', 'yes', -OLD.quarantined)
                WHERE OLD.state = 'active'
                \(addCounts);
            INSERT INTO fleet_counts (dimension, key, devices)
                SELECT d, k, n FROM (SELECT 'verdict' AS d, NEW.verdict AS k, 1 AS n
                    UNION ALL SELECT 'os', TRIM(NEW.os || ' ' || NEW.os_version), 1
                    UNION ALL SELECT 'quarantined', 'yes', NEW.quarantined)
                WHERE NEW.state = 'active'
                \(addCounts);
            INSERT INTO fleet_counts (dimension, key, devices)
                SELECT 'rule', rule, CASE WHEN NEW.state = 'active' THEN 1 ELSE -1 END FROM verdict_failures
                WHERE device_id = NEW.device_id AND OLD.state IS NOT NEW.state
                \(addCounts);
        END;
        CREATE TRIGGER fleet_failure_added AFTER INSERT ON verdict_failures BEGIN
            INSERT INTO fleet_counts (dimension, key, devices)
                SELECT 'rule', NEW.rule, 1 WHERE EXISTS (
                    SELECT 1 FROM fleet WHERE device_id = NEW.device_id AND state = 'active')
                \(addCounts);
        END;
        CREATE TRIGGER fleet_failure_removed AFTER DELETE ON verdict_failures BEGIN
            INSERT INTO fleet_counts (dimension, key, devices)
                SELECT 'rule', OLD.rule, -1 WHERE EXISTS (
                    SELECT 1 FROM fleet WHERE device_id = OLD.device_id AND state = 'active')
                \(addCounts);
        END;
        CREATE TRIGGER fleet_verdict_day AFTER INSERT ON verdict_changes BEGIN
            INSERT INTO verdict_days (day, became_noncompliant, became_compliant)
                VALUES (date(NEW.at, 'unixepoch'),
                    NEW.status = 'noncompliant' AND COALESCE(NEW.previous_status, '') != 'noncompliant',
                    NEW.status = 'compliant' AND COALESCE(NEW.previous_status, '') != 'compliant')
                ON CONFLICT (day) DO UPDATE SET became_noncompliant = became_noncompliant + excluded.became_noncompliant,
                    became_compliant = became_compliant + excluded.became_compliant;
        END;
        """

    /// Everything derived, derived again from the source rows; counts recomputed from scratch.
    static let rebuild = """
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
}
