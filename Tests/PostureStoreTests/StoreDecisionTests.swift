import Foundation
import PostureModel
import Testing

@testable import PostureStore

/// The store's decisions as pure functions over records: no database, every branch.
@Suite struct StoreDecisionTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    let policy = FreshnessPolicy(skew: .seconds(60))

    func envelope(_ sequence: UInt64, issued: Date) -> AttestationEnvelope {
        AttestationEnvelope(
            schemaVersion: 1, deviceID: "d", sequence: sequence, issuedAt: issued, nonce: "n", spoolGap: nil)
    }

    func decide(
        _ sequence: UInt64, issued: TimeInterval, received: TimeInterval? = nil, last: UInt64 = 4,
        status: String = "active", nonce: AttestationAcceptance.Nonce?, stored: Bool = false
    ) -> String {
        let result = AttestationAcceptance.decide(
            envelope(sequence, issued: t0 + issued), receivedAt: t0 + (received ?? issued),
            device: AttestationAcceptance.Device(status: status, lastSequence: last), nonce: nonce,
            sequenceStored: stored, policy: policy)
        switch result {
        case .success(let delivery): return delivery
        case .failure(let refusal): return refusal.code.rawValue
        }
    }

    @Test func everyFreshnessRuleHasItsOwnAnswer() {
        let fresh = AttestationAcceptance.Nonce(issuedAt: t0, expiresAt: t0 + 900)
        let used = AttestationAcceptance.Nonce(issuedAt: t0, expiresAt: t0 + 900, firstUsedAt: t0 + 10)
        let superseded = AttestationAcceptance.Nonce(
            issuedAt: t0, expiresAt: t0 + 900, firstUsedAt: t0 + 10, supersededAt: t0 + 100)
        #expect(decide(5, issued: 10, nonce: fresh) == "fresh")
        #expect(decide(5, issued: 10, received: 71, nonce: fresh) == "late")
        #expect(decide(5, issued: 10, status: "revoked", nonce: fresh) == "device_revoked")
        #expect(decide(4, issued: 10, nonce: fresh, stored: true) == "already_accepted")
        #expect(decide(3, issued: 10, nonce: used) == "nonce_reused")
        #expect(decide(3, issued: 10, nonce: fresh) == "sequence_not_increasing")
        // The last accepted sequence again (a retry after a lost answer) is stored by definition.
        #expect(decide(4, issued: 10, nonce: used) == "already_accepted")
        // Before a device's first report nothing is stored: a sequence 0 is not "already accepted".
        #expect(decide(0, issued: 10, last: 0, nonce: fresh) == "sequence_not_increasing")
        #expect(decide(5, issued: 10, nonce: nil) == "nonce_unknown")
        #expect(decide(5, issued: -61, nonce: fresh) == "stale_issue_time")
        #expect(decide(5, issued: -60, nonce: fresh) == "fresh")
        #expect(decide(5, issued: 961, nonce: fresh) == "nonce_expired")
        #expect(decide(5, issued: 960, nonce: fresh) == "fresh")
        // A spooled backlog under a used nonce: admitted until a newer nonce was issued, plus the skew.
        #expect(decide(5, issued: 160, nonce: superseded) == "fresh")
        #expect(decide(5, issued: 161, nonce: superseded) == "nonce_superseded")
        let unknown = AttestationAcceptance.decide(
            envelope(1, issued: t0), receivedAt: t0, device: nil, nonce: fresh, sequenceStored: false, policy: policy)
        #expect((try? unknown.get()) == nil)
    }

    @Test func theStoredCheckIsAskedOnlyForASequenceBeforeTheLast() {
        let device = AttestationAcceptance.Device(status: "active", lastSequence: 4)
        #expect(AttestationAcceptance.needsStoredCheck(envelope(3, issued: t0), device: device))
        #expect(!AttestationAcceptance.needsStoredCheck(envelope(4, issued: t0), device: device))
        #expect(!AttestationAcceptance.needsStoredCheck(envelope(5, issued: t0), device: device))
        #expect(!AttestationAcceptance.needsStoredCheck(envelope(1, issued: t0), device: nil))
    }

    @Test func enrollmentChecksTheTokenThenTheMachine() {
        let token = TokenRecord(
            id: "t", hash: "h", reusable: false, allowReenroll: false, labels: ["site": "a", "team": "x"],
            createdAt: t0, expiresAt: t0 + 60)
        #expect(EnrollmentDecision.checkToken(nil, now: t0)?.code == .tokenInvalid)
        #expect(EnrollmentDecision.checkToken(token, now: t0 + 60)?.code == .tokenExpired)
        #expect(EnrollmentDecision.checkToken(token, now: t0 + 59) == nil)
        #expect(
            EnrollmentDecision.checkMachine("m", activeDevices: ["d1"], token: token)?.code == .machineAlreadyEnrolled)
        #expect(EnrollmentDecision.checkMachine("m", activeDevices: [], token: token) == nil)
        var reenroll = token
        reenroll.allowReenroll = true
        #expect(EnrollmentDecision.checkMachine("m", activeDevices: ["d1"], token: reenroll) == nil)
        let device = DeviceRecord(
            id: "d", machineID: "m", hostname: "h", labels: ["team": "y"], status: .active, enrolledAt: t0,
            keyThumbprint: "k")
        #expect(EnrollmentDecision.labels(token: token, device: device) == ["site": "a", "team": "y"])
    }

    @Test func fleetCountsMoveByTheDifferenceAndOnlyForActiveDevices() {
        let before = FleetEntry(
            state: "active", verdict: "noncompliant", os: "debian", osVersion: "12", failing: ["a", "b"])
        var after = before
        after.verdict = "compliant"
        after.failing = ["b", "c"]
        after.quarantined = true
        let change = Dictionary(
            uniqueKeysWithValues: FleetEntry.delta(from: before, to: after).map { ($0.key.description, $0.change) })
        #expect(
            change == [
                "verdict=noncompliant": -1, "verdict=compliant": 1, "rule=a": -1, "rule=c": 1, "quarantined=yes": 1,
            ])
        // In key order, so that writers lock count rows in one order.
        let keys = FleetEntry.delta(from: before, to: after).map(\.key)
        #expect(keys == keys.sorted())
        var revoked = before
        revoked.state = "revoked"
        #expect(FleetEntry.delta(from: before, to: revoked).allSatisfy { $0.change == -1 })
        #expect(FleetEntry.delta(from: revoked, to: revoked).isEmpty)
        #expect(FleetEntry(state: "active").counts[FleetCountKey("os", "")] == 1)
    }

    @Test func theVerdictsFailingRulesAreReadFromItsJSON() {
        let verdict = StoredVerdict(
            deviceID: "d", status: "noncompliant", version: "v", changedAt: t0,
            verdict: #"{"failing":[{"rule":"a","state":"failing"},{"state":"x"},{"rule":"b"}],"status":"noncompliant"}"#
        )
        #expect(verdict.failingRules == ["a", "b"])
        #expect(
            StoredVerdict(deviceID: "d", status: "s", version: "v", changedAt: t0, verdict: "not json").failingRules
                == [])
    }

    @Test func theAuditEntryIsTheSameForTheSameRecordOnEitherBackend() {
        // What SQLite and PostgreSQL both return for an operator action: the same canonical entry.
        let row = SQLRow(
            columns: ["reason", "id", "at", "actor", "action", "device_id", "target"],
            values: [
                .text("line\nbreak \"q\""), .integer(3), .real(1_800_000_000.5), .text("alice"), .text("quarantine"),
                .text("d"), .null,
            ])
        #expect(
            AuditTrail.canonical(row)
                == #"{"action":"quarantine","actor":"alice","at":1800000000.5,"device_id":"d","id":3,"reason":"line\nbreak \"q\"","target":null}"#
        )
    }
}
