import Foundation
import PostureModel
import PostureStore
import PostureStoreSQLite
import TestSupport
import Testing

/// The audit trail's hash chain, on each backend: intact after normal writes, and every kind of tampering
/// done directly to the database (with an independent client: Python's sqlite3, or psql) is found and named.
@Suite(Requirement.available(programs: ["/usr/bin/python3"]))
struct AuditTrailTests {
    let base = StoreConformanceTests()

    /// Four audited writes (two operator actions, a verdict change, an enforcement report) and one refused
    /// attestation, which is a security event but not part of the audit trail.
    func populate() async throws -> String {
        let device = try await base.enrolledDevice()
        let store = base.store
        _ = try await store.setQuarantine(
            deviceID: device, quarantine: true, actor: "alice", reason: "stolen", at: base.t0)
        try await store.saveVerdict(
            StoredVerdict(deviceID: device, status: "noncompliant", version: "v1", changedAt: base.t0, verdict: "{}"),
            change: VerdictChange(
                deviceID: device, at: base.t0, previousStatus: nil, status: "noncompliant", cause: "quarantine",
                verdict: "{}"),
            outbox: [])
        try await store.recordSecurityEvents([
            SecurityEvent(
                at: base.t0, deviceID: device, code: "enforcement.terminate-session.done", message: "ended 3",
                peer: nil),
            SecurityEvent(at: base.t0, deviceID: nil, code: "bad_signature", message: "forged", peer: "10.0.0.9"),
        ])
        try await store.recordOperatorAction(
            OperatorAction(
                at: base.t0.addingTimeInterval(1), actor: "bob", action: "release", deviceID: device, target: nil,
                reason: "found"))
        return device
    }

    func sql(_ statement: String) throws { try base.fixture.sql(statement) }

    @Test(arguments: StoreKind.available) func normalWritesLeaveAnIntactChain(_ kind: StoreKind) async throws {
        try await base.use(kind)
        _ = try await populate()
        let result = try await base.store.verifyAuditTrail()
        #expect(result.problems == [])
        #expect(result.entries == 4)
        #expect(result.head.count == 64 && result.head != String(repeating: "0", count: 64))
    }

    @Test(arguments: StoreKind.available) func anEditedActionIsNamed(_ kind: StoreKind) async throws {
        try await base.use(kind)
        _ = try await populate()
        try sql("UPDATE operator_actions SET reason = 'routine' WHERE actor = 'alice'")
        let problems = try await base.store.verifyAuditTrail().problems
        #expect(problems.count == 1)
        #expect(problems.first?.contains("operator_actions row 1 was changed after it was recorded") == true)
    }

    @Test(arguments: StoreKind.available) func anEditedEntryWhoseSourceIsEditedToMatchIsStillFound(_ kind: StoreKind)
        async throws
    {
        try await base.use(kind)
        _ = try await populate()
        // A careful forger edits the action and its audit copy: the chain's hash no longer matches.
        try sql(
            """
            UPDATE operator_actions SET reason = 'routine' WHERE actor = 'alice';
            UPDATE audit_log SET entry = replace(entry, '"stolen"', '"routine"') WHERE kind = 'operator-action';
            """)
        let problems = try await base.store.verifyAuditTrail().problems
        #expect(
            problems == [
                "audit entry 1 (operator-action, source row 1): its content does not match its hash (the entry was edited)"
            ])
    }

    @Test(arguments: StoreKind.available) func aRemovedEntryAndARemovedActionAreFound(_ kind: StoreKind) async throws {
        try await base.use(kind)
        _ = try await populate()
        try sql("DELETE FROM audit_log WHERE kind = 'verdict-change'")
        var problems = try await base.store.verifyAuditTrail().problems
        #expect(problems.contains { $0.contains("does not follow the entry before it") })
        #expect(problems.contains("verdict_changes row 1: not in the audit trail (written around it)"))

        try sql("DELETE FROM security_events WHERE code LIKE 'enforcement.%'")
        problems = try await base.store.verifyAuditTrail().problems
        #expect(problems.contains { $0.hasSuffix("security_events row 1 was removed") })
    }

    @Test(arguments: StoreKind.available) func reorderedEntriesAreFound(_ kind: StoreKind) async throws {
        try await base.use(kind)
        _ = try await populate()
        // Swap the first two entries' positions.
        try sql(
            """
            UPDATE audit_log SET id = -1 WHERE id = 1;
            UPDATE audit_log SET id = 1 WHERE id = 2;
            UPDATE audit_log SET id = 2 WHERE id = -1;
            """)
        let problems = try await base.store.verifyAuditTrail().problems
        #expect(problems.contains { $0.hasPrefix("audit entry 1 ") && $0.contains("does not follow") })
        #expect(problems.contains { $0.hasPrefix("audit entry 2 ") && $0.contains("does not follow") })
    }

    @Test(arguments: StoreKind.available) func anActionWrittenAroundTheTrailIsFound(_ kind: StoreKind) async throws {
        try await base.use(kind)
        _ = try await populate()
        try sql(
            "INSERT INTO operator_actions (at, actor, action, device_id, target, reason) VALUES (1, 'mallory', 'release', NULL, NULL, 'x')"
        )
        let problems = try await base.store.verifyAuditTrail().problems
        #expect(problems == ["operator_actions row 3: not in the audit trail (written around it)"])
    }
}
