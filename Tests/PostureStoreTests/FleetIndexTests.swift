import Foundation
import PostureModel
import PostureStore
import PostureStoreSQLite
import Testing

/// The fleet index (`FleetIndex`): kept by the store's scripts as devices, reports, verdicts and quarantines are
/// written; its counts equal a rebuild from the source rows; filters and pages over it.
extension StoreConformanceTests {
    func verdict(_ device: String, _ status: String, failing: [String], at time: Date) -> StoredVerdict {
        let outcomes = failing.map { #"{"rule":"\#($0)","state":"failing"}"# }.joined(separator: ",")
        return StoredVerdict(
            deviceID: device, status: status, version: UUID().uuidString, changedAt: time,
            verdict: #"{"failing":[\#(outcomes)],"status":"\#(status)"}"#)
    }

    func report(_ device: String, os: String, version: String, at time: Date) async throws {
        var pending = attestation(device, 1, nonce: "n0-\(device)", issued: time, received: time, next: "n1-\(device)")
        pending.payload = Data(
            #"{"report":{"os":{"osRelease":{"status":"observed","source":"/etc/os-release","value":{"ID":"\#(os)","VERSION_ID":"\#(version)"}}}}}"#
                .utf8)
        // What the collector reads from the verified report for the index.
        pending.os = os
        pending.osVersion = version
        guard case .success = try await accept(pending) else { throw TestFailure("attestation refused") }
    }

    struct TestFailure: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }

    @Test(arguments: StoreKind.available) func theFleetIndexFollowsEveryWriteAndEqualsARebuild(_ kind: StoreKind)
        async throws
    {
        try await use(kind)
        var devices: [String] = []
        for _ in 0..<4 { devices.append(try await enrolledDevice()) }
        let (d1, d2, d3, d4) = (devices[0], devices[1], devices[2], devices[3])
        try await report(d1, os: "debian", version: "12", at: t0 + 10)
        try await report(d2, os: "debian", version: "12", at: t0 + 10)
        try await report(d3, os: "ubuntu", version: "24.04", at: t0 + 10)
        try await store.saveVerdict(verdict(d1, "compliant", failing: [], at: t0 + 11), change: nil, outbox: [])
        try await store.saveVerdict(
            verdict(d2, "noncompliant", failing: ["a", "b"], at: t0 + 11), change: nil, outbox: [])
        try await store.saveVerdict(verdict(d3, "noncompliant", failing: ["a"], at: t0 + 11), change: nil, outbox: [])
        // d2 is re-evaluated with a still failing and a rule added: saved, both counted (a trigger that
        // re-inserted a kept rule with OR IGNORE inside the upsert aborted this save).
        try await store.saveVerdict(
            verdict(d2, "noncompliant", failing: ["a", "b", "c"], at: t0 + 12), change: nil, outbox: [])
        try await store.saveVerdict(
            verdict(d2, "noncompliant", failing: ["a", "b", "b"], at: t0 + 13), change: nil, outbox: [])
        #expect(
            try await store.fleetSummary(now: t0 + 14).byFailingRule.map { "\($0.key)=\($0.devices)" } == [
                "a=2", "b=1",
            ])
        // Later: d3 fails b instead of a; d2 is mended; d1 is quarantined; d4 is revoked.
        try await store.saveVerdict(verdict(d3, "noncompliant", failing: ["b"], at: t0 + 20), change: nil, outbox: [])
        try await store.saveVerdict(
            verdict(d2, "compliant", failing: [], at: t0 + 21),
            change: VerdictChange(
                deviceID: d2, at: t0 + 21, previousStatus: "noncompliant", status: "compliant", cause: "test",
                verdict: "{}"), outbox: [])
        #expect(try await store.setQuarantine(deviceID: d1, quarantine: true, actor: "a", reason: "r", at: t0 + 22))
        #expect(try await store.revoke(deviceID: d4, actor: "a", reason: "r", at: t0 + 23))
        // A revoked device is not quarantined (nothing left to quarantine), and not twice revoked.
        #expect(try await !store.setQuarantine(deviceID: d4, quarantine: true, actor: "a", reason: "r", at: t0 + 24))
        #expect(try await !store.revoke(deviceID: d4, actor: "a", reason: "r", at: t0 + 24))

        let summary = try await store.fleetSummary(now: t0 + 30)
        #expect(summary.devices == 3)
        #expect(summary.byVerdict == ["compliant": 2, "noncompliant": 1])
        #expect(summary.byFailingRule.map { "\($0.key)=\($0.devices)" } == ["b=1"])
        #expect(summary.byOS.map(\.key).sorted() == ["debian 12", "ubuntu 24.04"])
        #expect(summary.quarantined == 1)
        #expect(summary.trend.last?.becameCompliant == 1)
        // Counted as rows changed, the summary equals one computed from scratch (SQLite's rebuild, from
        // the source rows with its JSON functions).
        if let sqlite = store as? SQLiteStore {
            try await sqlite.rebuildFleetIndex()
            #expect(try await store.fleetSummary(now: t0 + 30) == summary)
        }

        var query = FleetQuery()
        query.failingRule = "b"
        #expect(try await store.fleetDevices(query).devices.map(\.id) == [d3])
        query = FleetQuery()
        query.state = nil
        query.verdict = "none"
        #expect(try await store.fleetDevices(query).devices.map(\.id) == [d4])
        query = FleetQuery()
        query.os = "debian"
        let debian = try await store.fleetDevices(query).devices
        #expect(Set(debian.map(\.id)) == [d1, d2])
        #expect(debian.first { $0.id == d1 }?.quarantined == true)
        #expect(debian.first { $0.id == d1 }?.lastSeen == t0 + 10)

        // One device per page, every device once, in enrollment order then ID.
        var seen: [String] = []
        query = FleetQuery()
        query.state = nil
        query.sort = .enrolled
        query.limit = 1
        repeat {
            let page = try await store.fleetDevices(query)
            seen += page.devices.map(\.id)
            query.after = page.nextCursor.flatMap(FleetCursor.init(token:))
        } while query.after != nil
        #expect(seen == devices.sorted())
    }
}
