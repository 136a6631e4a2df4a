import Foundation
import PostureStore
import TestSupport
import Testing

/// Just-in-time grants and their events, on SQLite and PostgreSQL alike.
extension StoreConformanceTests {
    func grant(_ device: String, user: String, until: TimeInterval, status: String = "active") -> AccessGrantRecord {
        AccessGrantRecord(
            deviceID: device, user: user, grant: "ops-ssh", kind: "ssh", status: status, requestedAt: t0, validFrom: t0,
            validUntil: t0 + until, detail: #"{"principals":"\#(user)"}"#)
    }

    func event(_ device: String, user: String, _ name: String) -> AccessEvent {
        AccessEvent(
            at: t0, deviceID: device, user: user, grant: "ops-ssh", event: name, actor: "device:\(device)",
            detail: "d")
    }

    @Test(arguments: StoreKind.available)
    func grantsGetSerialsAndTheKRLListsLiveCertificatesOfDevicesNotCompliant(_ kind: StoreKind) async throws {
        try await use(kind)
        let (good, bad) = (try await enrolledDevice(), try await enrolledDevice())
        func verdict(_ device: String, _ status: String) -> StoredVerdict {
            StoredVerdict(deviceID: device, status: status, version: UUID().uuidString, changedAt: t0, verdict: "{}")
        }
        try await store.saveVerdict(verdict(good, "compliant"), change: nil, outbox: [])
        try await store.saveVerdict(verdict(bad, "compliant"), change: nil, outbox: [])
        let first = try await store.recordGrant(
            grant(good, user: "alice", until: 900), event: event(good, user: "alice", "ssh-certificate-issued"))
        let second = try await store.recordGrant(
            grant(bad, user: "bob", until: 900), event: event(bad, user: "bob", "ssh-certificate-issued"))
        let expired = try await store.recordGrant(
            grant(bad, user: "bob", until: 5), event: event(bad, user: "bob", "ssh-certificate-issued"))
        #expect(first > 0 && second > first && expired > second, "serials are distinct and increase")
        #expect(try await store.revokedSSHSerials(now: t0 + 10).isEmpty)

        // The device turns non-compliant: its live certificate is listed, its expired one is not.
        try await store.saveVerdict(verdict(bad, "noncompliant"), change: nil, outbox: [])
        #expect(try await store.revokedSSHSerials(now: t0 + 10) == [second])
        #expect(try await store.revokedSSHSerials(now: t0 + 901).isEmpty, "expired certificates need no listing")

        // An operator revokes a grant of the compliant device: listed too, once; a second revoke does nothing.
        #expect(try await store.revokeGrant(id: first, actor: "operator:erin", reason: "left the team", at: t0 + 20))
        #expect(try await !store.revokeGrant(id: first, actor: "operator:erin", reason: "again", at: t0 + 21))
        #expect(try await store.revokedSSHSerials(now: t0 + 30) == [first, second])

        try await store.recordAccessEvent(event(good, user: "carol", "ssh-certificate-refused"))
        #expect(try await store.accessGrants(deviceID: bad, limit: 10).map(\.id) == [expired, second])
        #expect(try await store.accessGrants(deviceID: nil, limit: 2).map(\.id) == [expired, second])
        let events = try await store.accessEvents(deviceID: good, limit: 10)
        #expect(events.map(\.event) == ["ssh-certificate-refused", "grant-revoked", "ssh-certificate-issued"])
        #expect(events[1].actor == "operator:erin" && events[1].detail == "left the team")
        #expect(events.last?.grantID == first)
        // Each event is chained into the audit trail, which verifies.
        let audit = try await store.verifyAuditTrail()
        #expect(audit.problems.isEmpty && audit.entries >= 5, "\(audit)")
    }

    @Test(arguments: StoreKind.available)
    func aSudoRequestIsDecidedOnceAndEachTransitionIsAudited(_ kind: StoreKind) async throws {
        try await use(kind)
        let device = try await enrolledDevice()
        var pending = grant(device, user: "bob", until: 0, status: "pending")
        pending.kind = "sudo"
        pending.validFrom = nil
        pending.validUntil = nil
        let id = try await store.recordGrant(pending, event: event(device, user: "bob", "sudo-requested"))
        #expect(try await store.accessGrant(id: id)?.status == "pending")
        #expect(try await store.accessGrant(id: id + 1000) == nil)
        // Of two deciders, one wins: the second finds it no longer pending.
        let approve = event(device, user: "bob", "sudo-approved")
        #expect(
            try await store.transitionGrant(
                id: id, from: "pending", to: "active", validFrom: t0 + 5, validUntil: t0 + 65, event: approve))
        #expect(
            try await !store.transitionGrant(
                id: id, from: "pending", to: "denied", validFrom: nil, validUntil: nil,
                event: event(device, user: "bob", "sudo-denied")))
        let active = try #require(try await store.accessGrant(id: id))
        #expect(active.status == "active" && active.validFrom == t0 + 5 && active.validUntil == t0 + 65)
        // Ending it keeps its validity as it was.
        #expect(
            try await store.transitionGrant(
                id: id, from: "active", to: "expired", validFrom: nil, validUntil: nil,
                event: event(device, user: "bob", "sudo-expired")))
        #expect(try await store.accessGrant(id: id)?.validUntil == t0 + 65)
        #expect(try await store.revokedSSHSerials(now: t0).isEmpty, "sudo grants are not in the KRL")
        let events = try await store.accessEvents(deviceID: device, limit: 10)
        #expect(events.map(\.event) == ["sudo-expired", "sudo-approved", "sudo-requested"])
        #expect(events.allSatisfy { $0.grantID == id })
        #expect(try await store.verifyAuditTrail().problems.isEmpty)
    }
}
