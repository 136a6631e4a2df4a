import Foundation
import PostureModel
import PostureStore
import PostureStoreSQLite
import TestSupport
import Testing

/// The conformance suite: every store test runs against each backend, a real SQLite file and a real
/// PostgreSQL 15 server: the decisions made inside transactions (token consumption, nonce and sequence
/// rules), what survives reopening, the fleet index, the audit trail, retention. Each test starts with
/// `use(kind)`, which opens a fresh store of that kind.
@Suite final class StoreConformanceTests: @unchecked Sendable {
    private var opened: StoreFixture?
    var fixture: StoreFixture {
        guard let opened else { preconditionFailure("call use(kind) first") }
        return opened
    }
    var store: SQLStore { fixture.store }
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    let policy = FreshnessPolicy(skew: .seconds(300))

    init() {}

    /// Stores opened again during the test, closed with it.
    var reopened: [StoreFixture] = []

    func use(_ kind: StoreKind) async throws {
        opened = try await StoreFixture.open(kind)
    }

    /// The same store opened again, as a restarted collector would.
    func reopen() async throws -> SQLStore {
        let again = try await fixture.reopen()
        reopened.append(again)
        return again.store
    }

    deinit {
        opened?.close()
        for other in reopened { other.close() }
    }

    func token(reusable: Bool = false, allowReenroll: Bool = false, expires: TimeInterval = 3600) -> TokenRecord {
        TokenRecord(
            id: UUID().uuidString, hash: UUID().uuidString, reusable: reusable, allowReenroll: allowReenroll,
            labels: ["site": "test"], createdAt: t0, expiresAt: t0.addingTimeInterval(expires))
    }

    func nonce(_ value: String, at time: Date, lifetime: TimeInterval = 900) -> IssuedNonce {
        IssuedNonce(value: value, issuedAt: time, expiresAt: time.addingTimeInterval(lifetime))
    }

    func enrollment(_ token: TokenRecord, machineID: String = UUID().uuidString, device: String = UUID().uuidString)
        -> Enrollment
    {
        Enrollment(
            tokenHash: token.hash,
            device: DeviceRecord(
                id: device, machineID: machineID, hostname: "host", labels: [:], status: .active, enrolledAt: t0,
                keyThumbprint: "kid"),
            certificate: CertificateRecord(
                serial: UUID().uuidString, deviceID: device, notBefore: t0, notAfter: t0.addingTimeInterval(86400),
                pem: "pem"),
            nonce: nonce("n0-\(device)", at: t0))
    }

    func attestation(_ device: String, _ sequence: UInt64, nonce: String, issued: Date, received: Date, next: String)
        -> PendingAttestation
    {
        PendingAttestation(
            envelope: AttestationEnvelope(
                schemaVersion: 1, deviceID: device, sequence: sequence, issuedAt: issued, nonce: nonce, spoolGap: nil),
            evidence: .compactJWS("jws-\(sequence)"), payload: Data("{\"sequence\":\(sequence)}".utf8),
            receivedAt: received,
            nextNonce: self.nonce(next, at: received))
    }

    func accept(_ pending: PendingAttestation) async throws -> Result<AttestationReceipt, StoreRefusal> {
        try await store.accept([pending], policy: policy)[0]
    }

    @Test(arguments: StoreKind.available) func aOneTimeTokenEnrollsExactlyOneOfManyConcurrentDevices(_ kind: StoreKind)
        async throws
    {
        try await use(kind)
        let shared = token()
        try await store.insertToken(shared)
        let outcomes = await withTaskGroup(of: AttestationRefusal.Code?.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    do {
                        try await self.store.enroll(self.enrollment(shared), now: self.t0)
                        return nil
                    } catch let refusal as StoreRefusal {
                        return refusal.code
                    } catch {
                        return .internalError
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == nil }.count == 1)
        #expect(outcomes.filter { $0 == .tokenUsed }.count == 15)
        #expect(try await store.devices().count == 1)
    }

    @Test(arguments: StoreKind.available) func tokensExpireAreUnknownOrReusable(_ kind: StoreKind) async throws {
        try await use(kind)
        let expired = token(expires: -1)
        let reusable = token(reusable: true)
        try await store.insertToken(expired)
        try await store.insertToken(reusable)
        do {
            try await store.enroll(enrollment(expired), now: t0)
            Issue.record("an expired token enrolled")
        } catch let refusal as StoreRefusal {
            #expect(refusal.code == .tokenExpired)
        }
        var unknown = enrollment(reusable)
        unknown.tokenHash = "nope"
        do {
            try await store.enroll(unknown, now: t0)
            Issue.record("an unknown token enrolled")
        } catch let refusal as StoreRefusal {
            #expect(refusal.code == .tokenInvalid)
        }
        try await store.enroll(enrollment(reusable), now: t0)
        try await store.enroll(enrollment(reusable), now: t0)
        #expect(try await store.tokens().first { $0.id == reusable.id }?.uses == 2)
        // Labels of the token go to the device.
        #expect(try await store.devices().allSatisfy { $0.device.labels == ["site": "test"] })
    }

    @Test(arguments: StoreKind.available) func aKnownMachineNeedsATokenThatAllowsReenrollment(_ kind: StoreKind)
        async throws
    {
        try await use(kind)
        let first = token(reusable: true)
        try await store.insertToken(first)
        try await store.enroll(enrollment(first, machineID: "m1", device: "old"), now: t0)
        do {
            try await store.enroll(enrollment(first, machineID: "m1", device: "new"), now: t0)
            Issue.record("the same machine enrolled twice without an operator's decision")
        } catch let refusal as StoreRefusal {
            #expect(refusal.code == .machineAlreadyEnrolled)
        }
        let again = token(allowReenroll: true)
        try await store.insertToken(again)
        try await store.enroll(enrollment(again, machineID: "m1", device: "new"), now: t0)
        #expect(try await store.device("old")?.status == .replaced)
        #expect(try await store.isDeviceActive("new"))
        #expect(try await !store.isDeviceActive("old"))
    }

    @Test(arguments: StoreKind.available) func nonceAndSequenceRules(_ kind: StoreKind) async throws {
        try await use(kind)
        let tok = token()
        try await store.insertToken(tok)
        try await store.enroll(enrollment(tok, device: "d"), now: t0)
        let n0 = "n0-d"
        // Fresh: first use of the enrollment nonce.
        let first = try await accept(attestation("d", 1, nonce: n0, issued: t0 + 1, received: t0 + 1, next: "n1"))
        #expect((try? first.get())?.delivery == "fresh")
        // The same report again (its answer was lost, or a replay): the store proves it has that sequence.
        let replay = try await accept(attestation("d", 1, nonce: n0, issued: t0 + 1, received: t0 + 2, next: "x"))
        #expect(replay.refusal == .alreadyAccepted)
        // Backlog: further reports signed with n0 before n1 was issued (the agent could not get n1).
        let backlog = try await accept(attestation("d", 2, nonce: n0, issued: t0 + 0.5, received: t0 + 400, next: "n2"))
        #expect((try? backlog.get())?.delivery == "late")
        // Signed with n0 long after a newer nonce existed: refused, curable by a fresh nonce.
        let old = try await accept(attestation("d", 3, nonce: n0, issued: t0 + 1000, received: t0 + 1000, next: "x"))
        #expect(old.refusal == .nonceSuperseded)
        // The newest nonce, unused, but the report was signed long after it expired.
        let expired = try await accept(
            attestation("d", 3, nonce: "n2", issued: t0 + 2000, received: t0 + 2000, next: "x"))
        #expect(expired.refusal == .nonceExpired)
        // Signed before the nonce existed.
        let stale = try await accept(attestation("d", 3, nonce: "n2", issued: t0 - 3600, received: t0 + 401, next: "x"))
        #expect(stale.refusal == .staleIssueTime)
        let unknown = try await accept(
            attestation("d", 3, nonce: "never", issued: t0 + 401, received: t0 + 401, next: "x"))
        #expect(unknown.refusal == .nonceUnknown)
        let ok = try await accept(attestation("d", 3, nonce: "n2", issued: t0 + 401, received: t0 + 401, next: "n3"))
        #expect((try? ok.get())?.sequence == 3)
        let lower = try await accept(attestation("d", 2, nonce: "n3", issued: t0 + 402, received: t0 + 402, next: "x"))
        #expect(lower.refusal == .alreadyAccepted)
        // Sequence 5 skips 4 (dropped from a full spool): 4 is below the last, not stored, so no answer may
        // claim it was; with its nonce consumed by 5 it is a replay, with an unused one merely out of order.
        let skip = try await accept(attestation("d", 5, nonce: "n3", issued: t0 + 403, received: t0 + 403, next: "n4"))
        #expect((try? skip.get())?.sequence == 5)
        let replayed = try await accept(
            attestation("d", 4, nonce: "n3", issued: t0 + 403, received: t0 + 404, next: "x"))
        #expect(replayed.refusal == .nonceReused)
        let behind = try await accept(attestation("d", 4, nonce: "n4", issued: t0 + 404, received: t0 + 404, next: "x"))
        #expect(behind.refusal == .sequenceNotIncreasing)
        #expect(try await store.attestations(deviceID: "d", limit: 10).map(\.sequence) == [5, 3, 2, 1])
    }

    @Test(arguments: StoreKind.available) func aBatchIsDecidedInOrderInOneTransactionAndSurvivesReopening(
        _ kind: StoreKind
    ) async throws {
        try await use(kind)
        let tok = token()
        try await store.insertToken(tok)
        try await store.enroll(enrollment(tok, device: "d"), now: t0)
        let results = try await store.accept(
            [
                attestation("d", 1, nonce: "n0-d", issued: t0, received: t0, next: "n1"),
                attestation("d", 1, nonce: "n0-d", issued: t0, received: t0, next: "x"),
                attestation("d", 2, nonce: "n1", issued: t0 + 1, received: t0 + 1, next: "n2"),
            ], policy: policy)
        #expect(results.map { (try? $0.get()) != nil } == [true, false, true])
        let reopened = try await reopen()
        #expect(try await reopened.attestations(deviceID: "d", limit: 10).map(\.sequence) == [2, 1])
        #expect(try await reopened.device("d")?.lastSequence == 2)
        #expect(try await reopened.revoke(deviceID: "d", now: t0))
        let revoked = try await reopened.accept(
            [attestation("d", 3, nonce: "n2", issued: t0 + 2, received: t0 + 2, next: "x")], policy: policy)[0]
        #expect(revoked.refusal == .deviceRevoked)
    }
}

extension Result where Failure == StoreRefusal {
    var refusal: AttestationRefusal.Code? {
        if case .failure(let refusal) = self { return refusal.code }
        return nil
    }
}

extension Date {
    static func + (date: Date, seconds: TimeInterval) -> Date { date.addingTimeInterval(seconds) }
    static func - (date: Date, seconds: TimeInterval) -> Date { date.addingTimeInterval(-seconds) }
}
