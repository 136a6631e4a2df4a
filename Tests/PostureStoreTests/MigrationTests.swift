import Foundation
import GRDB
import PostureModel
import PostureStoreSQLite
import TestSupport
import Testing

@testable import PostureStore

/// A store written by an earlier version (schema v2: before the audit trail and the fleet index) opened by
/// this one: v3 chains the existing history, v4 derives the fleet index from the rows already there, v5
/// fingerprints the certificates already issued.
@Suite struct MigrationTests {
    let t0 = 1_800_000_000.0

    @Test func aVersion2StoreGainsItsAuditTrailAndFleetIndex() async throws {
        let path = try Paths.temporaryDirectory("migration").appendingPathComponent("collector.sqlite").path
        do {
            let pool = try DatabasePool(path: path)
            try SQLiteStore.migrator.migrate(pool, upTo: "v2")
            try await pool.write { db in try self.insertVersion2Rows(db) }
            try pool.close()
        }

        let store = try SQLiteStore(path: path)
        let summary = try await store.fleetSummary(now: Date(timeIntervalSince1970: t0 + 100))
        #expect(summary.devices == 3)
        #expect(summary.byVerdict == ["compliant": 1, "noncompliant": 1, "none": 1])
        #expect(summary.byFailingRule.map { "\($0.key)=\($0.devices)" } == ["disk-encrypted=1"])
        #expect(summary.byOS.map { "\($0.key)=\($0.devices)" }.sorted() == ["debian 12=2", "ubuntu 24.04=1"])
        #expect(summary.quarantined == 1)

        // "Non-compliant since" is when the status last changed (t0+5), not its latest re-evaluation (t0+9).
        let web2 = try #require(try await store.fleetDevice("d2"))
        #expect(web2.verdict == "noncompliant")
        #expect(web2.verdictSince == Date(timeIntervalSince1970: t0 + 5))
        #expect(web2.failing == ["disk-encrypted"])
        #expect(web2.lastSeen == Date(timeIntervalSince1970: t0 + 8))
        #expect(try await store.fleetDevice("d1")?.quarantined == true)

        var query = FleetQuery()
        query.label = ("team", "web")
        #expect(try await store.fleetDevices(query).devices.map(\.id) == ["d1", "d2"])
        query = FleetQuery()
        query.hostname = "db-"
        #expect(try await store.fleetDevices(query).devices.map(\.id) == ["d3"])
        query = FleetQuery()
        query.state = "revoked"
        #expect(try await store.fleetDevices(query).devices.map(\.id) == ["d4"])

        // The history written before the audit trail existed is chained, in time order, and intact.
        let audit = try await store.verifyAuditTrail()
        #expect(audit.problems.isEmpty, "\(audit.problems)")
        #expect(audit.entries == 4)

        // A certificate issued before v5 is found by the SHA-256 of its DER (computed here by sha256sum).
        let fingerprint = try Shell.run(["sha256sum"], stdin: Data(Self.certificateDER)).stdout.prefix(64)
        #expect(try await store.deviceID(certificateFingerprint: String(fingerprint)) == "d2")
        #expect(try await store.deviceID(certificateFingerprint: String(repeating: "0", count: 64)) == nil)

        // What the migration derived equals what a rebuild derives, and the store's scripts carry on from it.
        try await store.rebuildFleetIndex()
        #expect(try await store.fleetSummary(now: Date(timeIntervalSince1970: t0 + 100)) == summary)

        // A certificate an older collector inserts into the upgraded store, without a fingerprint, is
        // fingerprinted the next time the store is opened.
        let renewed = Array("d3's certificate, inserted by an older collector".utf8)
        do {
            let pool = try DatabasePool(path: path)
            try await pool.write { db in
                try db.execute(
                    sql:
                        "INSERT INTO certificates (serial, device_id, not_before, not_after, pem) VALUES ('s3', 'd3', ?, ?, ?)",
                    arguments: [self.t0, self.t0 + 86400, Self.pem(renewed)])
            }
            try pool.close()
        }
        let renewedFingerprint = try Shell.run(["sha256sum"], stdin: Data(renewed)).stdout.prefix(64)
        #expect(try await store.deviceID(certificateFingerprint: String(renewedFingerprint)) == nil)
        let reopened = try SQLiteStore(path: path)
        #expect(try await reopened.deviceID(certificateFingerprint: String(renewedFingerprint)) == "d3")
    }

    /// `posture-collector migrate --from`: a store an earlier version wrote, moved into PostgreSQL, is the
    /// same fleet there: devices, history, fleet index, and the audit trail with the same head; writes go on.
    @Test(.enabled(if: PostgresServer.missing == nil || Requirement.isCI, "needs PostgreSQL 15"))
    func anEarlierVersionsStoreMovesIntoPostgreSQLWhole() async throws {
        let path = try Paths.temporaryDirectory("move").appendingPathComponent("collector.sqlite").path
        do {
            let pool = try DatabasePool(path: path)
            try SQLiteStore.migrator.migrate(pool, upTo: "v2")
            try await pool.write { db in try self.insertVersion2Rows(db) }
            try pool.close()
        }
        let source = try SQLiteStore(path: path)
        let target = try await StoreFixture.open(.postgresql)
        defer { target.close() }
        let copied = try await StoreCopy.copy(from: source, to: target.store, batch: 2)
        #expect(copied["devices"] == 4)
        #expect(copied["audit_log"] == 4)

        let now = Date(timeIntervalSince1970: t0 + 100)
        #expect(try await target.store.fleetSummary(now: now) == source.fleetSummary(now: now))
        #expect(try await target.store.devices().map(\.device) == source.devices().map(\.device))
        #expect(try await target.store.fleetDevice("d2") == source.fleetDevice("d2"))
        let before = try await source.verifyAuditTrail()
        let after = try await target.store.verifyAuditTrail()
        #expect(after.problems == [])
        #expect(after.head == before.head && after.entries == before.entries)

        // The keys the database generates continue after the copied rows: a new action is chained.
        #expect(
            try await target.store.setQuarantine(deviceID: "d3", quarantine: true, actor: "a", reason: "r", at: now))
        #expect(try await target.store.verifyAuditTrail().entries == before.entries + 1)
        #expect(try await target.store.verifyAuditTrail().problems == [])
        // A second migration into the same database is refused.
        await #expect(throws: StoreCopy.Refused.self) { try await StoreCopy.copy(from: source, to: target.store) }
    }

    static func pem(_ der: [UInt8]) -> String {
        "-----BEGIN CERTIFICATE-----\n\(Data(der).base64EncodedString())\n-----END CERTIFICATE-----\n"
    }

    /// Stands in for a certificate's DER: v5 hashes the bytes inside the PEM, it does not parse them.
    static let certificateDER = Array("a device certificate issued by schema v2".utf8)

    /// Rows as version 2 wrote them, through its own columns only.
    func insertVersion2Rows(_ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO tokens (id, hash, reusable, allow_reenroll, labels, created_at, expires_at, uses)
                VALUES ('t', 'h', 1, 0, '{}', ?, ?, 4)
                """, arguments: [t0, t0 + 3600])
        let devices: [(String, String, String, String)] = [
            ("d1", "web-1", #"{"team":"web"}"#, "active"), ("d2", "web-2", #"{"team":"web"}"#, "active"),
            ("d3", "db-1", #"{"team":"data"}"#, "active"), ("d4", "old-1", "{}", "revoked"),
        ]
        for (id, hostname, labels, status) in devices {
            try db.execute(
                sql: """
                    INSERT INTO devices (id, machine_id, hostname, labels, status, enrolled_at, last_sequence,
                        token_id, key_thumbprint)
                    VALUES (?, ?, ?, ?, ?, ?, 1, 't', 'kid')
                    """, arguments: [id, "m-" + id, hostname, labels, status, t0])
        }
        for (id, os, version) in [("d1", "debian", "12"), ("d2", "debian", "12"), ("d3", "ubuntu", "24.04")] {
            let payload =
                #"{"report":{"os":{"osRelease":{"status":"observed","source":"/etc/os-release","value":{"ID":"\#(os)","VERSION_ID":"\#(version)"}}}}}"#
            try db.execute(
                sql: """
                    INSERT INTO device_state (device_id, sequence, issued_at, received_at, delivery, payload)
                    VALUES (?, 1, ?, ?, 'live', ?)
                    """, arguments: [id, t0 + 8, t0 + 8, payload])
        }
        try db.execute(
            sql:
                "INSERT INTO certificates (serial, device_id, not_before, not_after, pem) VALUES ('s2', 'd2', ?, ?, ?)",
            arguments: [t0, t0 + 86400, Self.pem(Self.certificateDER)])
        let failing = #"{"failing":[{"rule":"disk-encrypted","state":"failing"}],"status":"noncompliant"}"#
        try db.execute(
            sql: """
                INSERT INTO verdicts (device_id, status, version, changed_at, verdict) VALUES
                    ('d1', 'compliant', 'v1', ?, '{"failing":[],"status":"compliant"}'),
                    ('d2', 'noncompliant', 'v3', ?, ?)
                """, arguments: [t0 + 1, t0 + 9, failing])
        // d2: compliant at t0+1, non-compliant from t0+5, re-evaluated (still non-compliant) at t0+9.
        try db.execute(
            sql: """
                INSERT INTO verdict_changes (device_id, at, previous_status, status, cause, verdict) VALUES
                    ('d1', ?, NULL, 'compliant', 'report', '{}'),
                    ('d2', ?, NULL, 'compliant', 'report', '{}'),
                    ('d2', ?, 'compliant', 'noncompliant', 'report', ?)
                """, arguments: [t0 + 1, t0 + 1, t0 + 5, failing])
        try db.execute(
            sql: "INSERT INTO quarantines (device_id, actor, reason, at) VALUES ('d1', 'erin', 'incident', ?)",
            arguments: [t0 + 6])
        try db.execute(
            sql: """
                INSERT INTO operator_actions (at, actor, action, device_id, target, reason)
                VALUES (?, 'erin', 'quarantine', 'd1', NULL, 'incident')
                """, arguments: [t0 + 6])
    }
}
