import Foundation
import PostureModel
import PostureStore
import PostureStoreSQLite
import PostureVerdict
import TestSupport
import Testing

/// Verdicts, operator actions and the Shared Signals outbox in the SQLite store.
extension StoreConformanceTests {
    func enrolledDevice() async throws -> String {
        let shared = token()
        try await store.insertToken(shared)
        let device = UUID().uuidString.lowercased()
        try await store.enroll(enrollment(shared, device: device), now: t0)
        return device
    }

    func stream() -> StreamRecord {
        StreamRecord(
            id: UUID().uuidString, audience: "r", deliveryMethod: "urn:ietf:rfc:8935", endpointURL: "http://r",
            authorizationHeader: nil, eventsRequested: ["e"], algorithm: "RS256", status: "enabled", createdAt: t0,
            tokenID: "t")
    }

    @Test(arguments: StoreKind.available) func aStreamKeepsItsStatusReasonDescriptionAndSubjectFormat(
        _ kind: StoreKind
    ) async throws {
        try await use(kind)
        var receiver = stream()
        #expect(receiver.subjectFormat == "iss_sub")
        try await store.upsertStream(receiver)
        #expect(try await store.streams() == [receiver])
        receiver.status = "paused"
        receiver.statusReason = "maintenance window"
        receiver.description = "the IdP's stream"
        receiver.subjectFormat = "uri"
        receiver.eventsRequested = ["e", "f"]
        try await store.upsertStream(receiver)
        #expect(try await store.streams() == [receiver])
        // Its undelivered SETs are a backlog until the stream is deleted.
        try await store.insertOutbox([
            OutboxEntry(streamID: receiver.id, jti: "held", setJWT: "s", createdAt: t0, nextAttemptAt: t0)
        ])
        #expect(try await store.outboxBacklog().pending == 1)
        var deleted = receiver
        deleted.status = "deleted"
        try await store.upsertStream(deleted)
        #expect(try await store.outboxBacklog().pending == 0)
        // The reason goes when a new status comes without one.
        receiver.status = "enabled"
        receiver.statusReason = nil
        try await store.upsertStream(receiver)
        #expect(try await store.streams().first?.statusReason == nil)
    }

    @Test(arguments: StoreKind.available) func aVerdictPullKeepsTheNewestTimeAndIsFoundSinceAWindow(
        _ kind: StoreKind
    ) async throws {
        try await use(kind)
        let (a, b) = (try await enrolledDevice(), try await enrolledDevice())
        try await store.recordVerdictPull(deviceID: a, at: t0)
        try await store.recordVerdictPull(deviceID: a, at: t0.addingTimeInterval(600))
        // An older pull (another collector's, arriving late) does not move it back.
        try await store.recordVerdictPull(deviceID: a, at: t0.addingTimeInterval(300))
        try await store.recordVerdictPull(deviceID: b, at: t0.addingTimeInterval(-86400))
        #expect(try await store.verdictPulls(since: t0, deviceID: nil) == [a: t0.addingTimeInterval(600)])
        #expect(try await store.verdictPulls(since: t0.addingTimeInterval(-90000), deviceID: b).keys.sorted() == [b])
        #expect(try await store.verdictPulls(since: t0.addingTimeInterval(601), deviceID: a).isEmpty)
    }

    @Test(arguments: StoreKind.available) func aVerdictChangeAndItsEventsCommitTogetherOrNotAtAll(_ kind: StoreKind)
        async throws
    {
        try await use(kind)
        let device = try await enrolledDevice()
        let receiver = stream()
        try await store.upsertStream(receiver)
        let first = StoredVerdict(deviceID: device, status: "compliant", version: "v1", changedAt: t0, verdict: "{}")
        let change = VerdictChange(
            deviceID: device, at: t0, previousStatus: nil, status: "compliant", cause: "test", verdict: "{}")
        let events = (1...2).map {
            OutboxEntry(streamID: receiver.id, jti: "jti-\($0)", setJWT: "set-\($0)", createdAt: t0, nextAttemptAt: t0)
        }
        try await store.saveVerdict(first, change: change, outbox: events)
        #expect(try await store.verdicts() == [first])
        #expect(try await store.verdictChanges(deviceID: device, limit: 10).count == 1)
        #expect(
            try await store.pendingOutbox(streamID: receiver.id, dueBy: nil, limit: 10).map(\.jti) == [
                "jti-1", "jti-2",
            ])

        // A change whose event cannot be queued (a duplicate jti) leaves the old verdict and no change record.
        var second = first
        second.version = "v2"
        second.status = "noncompliant"
        await #expect(throws: (any Error).self) {
            try await store.saveVerdict(second, change: change, outbox: [events[0]])
        }
        #expect(try await store.verdicts() == [first])
        #expect(try await store.verdictChanges(deviceID: device, limit: 10).count == 1)

        // Delivered once, never offered again; a failed push waits for its next attempt.
        #expect(try await store.markDelivered(streamID: receiver.id, jtis: ["jti-1"], at: t0) == 1)
        #expect(try await store.markDelivered(streamID: receiver.id, jtis: ["jti-1"], at: t0) == 0)
        let pending = try await store.pendingOutbox(streamID: receiver.id, dueBy: t0, limit: 10)
        #expect(pending.map(\.jti) == ["jti-2"])
        try await store.markFailed(id: pending[0].id, error: "HTTP 503", nextAttemptAt: t0.addingTimeInterval(2))
        #expect(
            try await store.pendingOutbox(streamID: receiver.id, dueBy: t0.addingTimeInterval(1), limit: 10).isEmpty)
        #expect(
            try await store.pendingOutbox(streamID: receiver.id, dueBy: t0.addingTimeInterval(2), limit: 10).first?
                .attempts == 1)

        // All of it survives reopening the file.
        let reopened = try await reopen()
        #expect(try await reopened.pendingOutbox(streamID: receiver.id, dueBy: nil, limit: 10).map(\.jti) == ["jti-2"])
        #expect(try await reopened.streams() == [receiver])
    }

    @Test(arguments: StoreKind.available) func operatorActionsAreRecordedWithWhoAndWhy(_ kind: StoreKind) async throws {
        try await use(kind)
        let device = try await enrolledDevice()
        #expect(
            try await store.setQuarantine(deviceID: device, quarantine: true, actor: "alice", reason: "stolen", at: t0))
        #expect(
            !(try await store.setQuarantine(deviceID: device, quarantine: true, actor: "alice", reason: "again", at: t0))
        )
        #expect(try await store.quarantines()[device]?.by == "alice")
        #expect(!(try await store.setQuarantine(deviceID: "nope", quarantine: true, actor: "a", reason: "r", at: t0)))
        #expect(
            try await store.setQuarantine(deviceID: device, quarantine: false, actor: "bob", reason: "found", at: t0))
        #expect(try await store.quarantines().isEmpty)

        let waiver = Waiver(
            id: "w-1", rule: "root-encrypted", deviceID: nil, label: ["team": "x"], reason: "migration", by: "carol",
            createdAt: t0, expiresAt: t0.addingTimeInterval(3600))
        try await store.insertWaiver(waiver)
        #expect(try await store.waivers() == [waiver])
        #expect(try await store.revokeWaiver(id: "w-1", actor: "dave", reason: "done early", at: t0))
        #expect(!(try await store.revokeWaiver(id: "w-1", actor: "dave", reason: "twice", at: t0)))
        #expect(try await store.waivers().first?.revokedAt == t0)

        let actions = try await store.operatorActions(after: 0, limit: 100)
        #expect(actions.map(\.action) == ["quarantine", "release", "waiver", "waiver-revoke"])
        #expect(actions.map(\.actor) == ["alice", "bob", "carol", "dave"])
        #expect(actions.map(\.reason) == ["stolen", "found", "migration", "done early"])
        #expect(try await store.lastOperatorActionID() == actions.last?.id)
        #expect(try await store.operatorActions(after: actions[1].id, limit: 100).count == 2)
    }

    /// A credential's name is the actor in the audit trail: unique among active credentials, ASCII case
    /// aside, whether token or client certificate; a revoked or expired one frees it.
    @Test(arguments: StoreKind.available) func anActiveCredentialsNameIsNotGivenTwice(_ kind: StoreKind) async throws {
        try await use(kind)
        func credential(_ name: String, hash: String = UUID().uuidString, at created: Date, expires: Date? = nil)
            -> APITokenRecord
        {
            APITokenRecord(
                id: UUID().uuidString, hash: hash, name: name, scopes: ["fleet:read"], createdAt: created,
                expiresAt: expires)
        }
        func refusal(_ record: APITokenRecord) async -> StoreRefusal? {
            do {
                try await store.insertAPIToken(record, recording: nil)
                return nil
            } catch {
                return error as? StoreRefusal
            }
        }
        let ci = credential("ci", at: t0)
        try await store.insertAPIToken(ci, recording: nil)
        let taken = await refusal(credential("CI", at: t0 + 1))
        #expect(taken == .credentialNameTaken(name: "CI", holder: ci.id), "\(String(describing: taken))")
        // A client certificate's record and a token share one namespace.
        try await store.insertAPIToken(credential("proxy", hash: "client-certificate:p", at: t0), recording: nil)
        #expect(await refusal(credential("proxy", at: t0 + 1))?.code == .conflict)
        // Expired (at t0+10, asked at t0+10 and after) or revoked, the name is free.
        try await store.insertAPIToken(credential("temp", at: t0, expires: t0 + 10), recording: nil)
        #expect(await refusal(credential("temp", at: t0 + 9))?.code == .conflict)
        #expect(await refusal(credential("temp", at: t0 + 10)) == nil)
        #expect(try await store.revokeAPIToken(id: ci.id, at: t0 + 2, recording: nil))
        #expect(await refusal(credential("ci", at: t0 + 3)) == nil)
        // Nothing refused was stored.
        #expect(try await store.apiTokens().map(\.name).sorted() == ["ci", "ci", "proxy", "temp", "temp"])
    }

    @Test(arguments: StoreKind.available) func journalSignalsAreKeptWithTheirAttestation(_ kind: StoreKind) async throws
    {
        try await use(kind)
        let device = try await enrolledDevice()
        // A real report (`postured probe`), so that the newest one is read back decoded.
        let probe = try Shell.run([Paths.executable("postured"), "probe", "--format", "json", "--root", "/nonexistent"])
        let report = try PostureReport.makeDecoder().decode(PostureReport.self, from: Data(probe.stdout.utf8))
        let payload = AttestationPayload(
            deviceID: device, sequence: 1, issuedAt: t0, nonce: "n0-\(device)", report: report)
        var pending = attestation(device, 1, nonce: "n0-\(device)", issued: t0, received: t0, next: "n1")
        pending.payload = try PostureReport.wireEncoder().encode(payload)
        pending.journalCounts = #"{"sshAuthFailure":7}"#
        _ = try await accept(pending)
        let rows = try await store.signals(since: t0.addingTimeInterval(-60))
        #expect(rows.map(\.counts) == [#"{"sshAuthFailure":7}"#])
        #expect(try await store.signals(since: t0).isEmpty)
        let latest = try await store.latestReports()
        #expect(latest.map(\.deviceID) == [device])
        #expect(latest.first?.attestation.report.os.kernelRelease == report.os.kernelRelease)
        // A stored payload that is no report (an older collector's bug) is left out, not a failed start.
        let other = try await enrolledDevice()
        _ = try await accept(attestation(other, 1, nonce: "n0-\(other)", issued: t0, received: t0, next: "n1-\(other)"))
        #expect(try await store.latestReports().map(\.deviceID) == [device])
        #expect(try await store.activeDevices().map(\.id).contains(other))
    }
}

extension StoreConformanceTests {
    @Test(arguments: StoreKind.available) func aLeaseHasOneHolderUntilItLapses(_ kind: StoreKind) async throws {
        try await use(kind)
        #expect(try await store.claimLease("work", owner: "a", for: .seconds(30), now: t0))
        #expect(try await !store.claimLease("work", owner: "b", for: .seconds(30), now: t0 + 10))
        #expect(try await store.claimLease("work", owner: "a", for: .seconds(30), now: t0 + 20))
        #expect(try await !store.claimLease("work", owner: "b", for: .seconds(30), now: t0 + 49))
        #expect(try await store.claimLease("work", owner: "b", for: .seconds(30), now: t0 + 51))
        #expect(try await !store.claimLease("work", owner: "a", for: .seconds(30), now: t0 + 52))
        #expect(try await store.claimLease("other", owner: "a", for: .seconds(30), now: t0 + 52))
        // Of many collectors claiming at once, exactly one holds it.
        let winners = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<8 {
                group.addTask {
                    (try? await self.store.claimLease(
                        "contended", owner: "node-\(index)", for: .seconds(30), now: self.t0)) == true
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(winners == 1)
    }

    @Test(arguments: StoreKind.available) func aVerdictIsStoredOnlyOverTheOneItFollows(_ kind: StoreKind) async throws {
        try await use(kind)
        let device = try await enrolledDevice()
        func verdict(_ version: String) -> StoredVerdict {
            StoredVerdict(deviceID: device, status: "compliant", version: version, changedAt: t0, verdict: "{}")
        }
        #expect(try await store.saveVerdict(verdict("v1"), change: nil, outbox: [], expected: .version(nil)))
        #expect(try await !store.saveVerdict(verdict("v2"), change: nil, outbox: [], expected: .version(nil)))
        #expect(try await store.saveVerdict(verdict("v2"), change: nil, outbox: [], expected: .version("v1")))
        // A collector that evaluated from v1 too comes second: nothing written, v2 stays.
        let change = VerdictChange(
            deviceID: device, at: t0, previousStatus: "compliant", status: "compliant", cause: "late", verdict: "{}")
        #expect(try await !store.saveVerdict(verdict("v3"), change: change, outbox: [], expected: .version("v1")))
        #expect(try await store.storedVerdict(deviceID: device)?.version == "v2")
        #expect(try await store.verdictChanges(deviceID: device, limit: 10).isEmpty)
    }

    @Test(arguments: StoreKind.available) func aBatchOfVerdictsDecidesEachAsAlone(_ kind: StoreKind) async throws {
        try await use(kind)
        let (a, b) = (try await enrolledDevice(), try await enrolledDevice())
        func save(_ device: String, _ version: String, after expected: String?) -> VerdictSave {
            let change = VerdictChange(
                deviceID: device, at: t0, previousStatus: nil, status: "compliant", cause: "start", verdict: "{}")
            return VerdictSave(
                StoredVerdict(deviceID: device, status: "compliant", version: version, changedAt: t0, verdict: "{}"),
                change: change, outbox: [], expected: .version(expected))
        }
        // Another collector stored b's verdict first: the start's save of b loses, a's stand, and a's
        // second save in the same batch sees its first.
        try await store.saveVerdict(save(b, "b-other", after: nil).verdict, change: nil, outbox: [])
        let saved = try await store.saveVerdicts([
            save(a, "a1", after: nil), save(b, "b-start", after: nil), save(a, "a2", after: "a1"),
        ])
        #expect(saved == [true, false, true])
        #expect(try await store.storedVerdict(deviceID: a)?.version == "a2")
        #expect(try await store.storedVerdict(deviceID: b)?.version == "b-other")
        #expect(try await store.verdictChanges(deviceID: a, limit: 10).count == 2)
        #expect(try await store.verdictChanges(deviceID: b, limit: 10).isEmpty)
    }
}
