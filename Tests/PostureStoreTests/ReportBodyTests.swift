import Crypto
import Foundation
import PostureModel
import PostureStore
import Testing

/// Schema 2 attestations: each distinct report part is stored once, every attestation is still verifiable
/// with the device's key alone, and retention deletes a part only when no kept attestation names it.
extension StoreConformanceTests {
    struct SignedDevice {
        var id: String
        var key: P256.Signing.PrivateKey
    }

    /// A device whose first nonce was issued at `nonceAt` (t0 by default).
    func signedDevice(nonceAt: Date? = nil) async throws -> SignedDevice {
        let key = P256.Signing.PrivateKey()
        let issued = token()
        try await store.insertToken(issued)
        var enrollment = enrollment(issued)
        enrollment.device.keyThumbprint = KeyThumbprint(key.publicKey).value
        if let nonceAt { enrollment.nonce = nonce("n0-\(enrollment.device.id)", at: nonceAt, lifetime: 30 * 86400) }
        try await store.enroll(enrollment, now: t0)
        return SignedDevice(id: enrollment.device.id, key: key)
    }

    /// A schema 2 attestation of `device` whose parts are `facts` and `journal`, signed as an agent does.
    func detached(
        _ device: SignedDevice, _ sequence: UInt64, facts: String, journal: String, received: Date
    ) throws -> PendingAttestation {
        let reportPart = Data(facts.utf8)
        let journalPart = Data(journal.utf8)
        let envelope = DetachedAttestation.Envelope(
            v: 2, sub: device.id, seq: sequence, iat: Int64(received.timeIntervalSince1970),
            collected: Int64(received.timeIntervalSince1970), nonce: "n\(sequence - 1)-\(device.id)",
            report: DetachedAttestation.digest(reportPart), journal: DetachedAttestation.digest(journalPart), gap: nil)
        let bytes = try PostureReport.wireEncoder().encode(envelope)
        let jws = try CompactJWS.sign(payload: bytes, with: SoftwareSigningKey(device.key))
        return PendingAttestation(
            envelope: AttestationEnvelope(
                schemaVersion: 2, deviceID: device.id, sequence: sequence, issuedAt: received,
                nonce: envelope.nonce, spoolGap: nil),
            evidence: .envelope(
                bytes, signature: jws.signatureBytes,
                parts: [
                    ReportBody(digest: envelope.report, bytes: reportPart),
                    ReportBody(digest: envelope.journal, bytes: journalPart),
                ]),
            payload: Data("{\"sequence\":\(sequence)}".utf8), receivedAt: received,
            nextNonce: nonce("n\(sequence)-\(device.id)", at: received, lifetime: 30 * 86400))
    }

    func count(_ table: String) async throws -> Int {
        try await store.backend.read { db in try db.row("SELECT COUNT(*) AS n FROM \(table)")?.int("n") ?? -1 }
    }

    @Test(arguments: StoreKind.available) func eachDistinctPartIsStoredOnceAndEveryAttestationVerifies(
        _ kind: StoreKind
    ) async throws {
        try await use(kind)
        let device = try await signedDevice()
        let facts = String(repeating: #"{"firewall":"drop","disk":"luks2"}"#, count: 1)
        let quiet = #"{"status":"observed","value":{"cursor":"c1"}}"#
        let busy = #"{"status":"observed","value":{"cursor":"c2","counts":{"authFailure":3}}}"#
        // 1 and 2: the same facts and journal; 3: the journal moved on; 4: back to 1's journal.
        let journals = [quiet, quiet, busy, quiet]
        for (index, journal) in journals.enumerated() {
            let pending = try detached(
                device, UInt64(index + 1), facts: facts, journal: journal, received: t0 + Double(index) * 60)
            guard case .success = try await accept(pending) else {
                throw TestFailure("attestation \(index + 1) refused")
            }
        }
        #expect(try await count("report_bodies") == 3)
        // Nonces do not pile up either: the one the last report used and the one issued with its receipt.
        #expect(try await count("nonces") == 2)

        // Anyone with the device's key: the JWS verifies, and each part hashes to what its envelope names.
        let stored = try await store.attestations(deviceID: device.id, limit: 10)
        #expect(stored.map(\.sequence) == [4, 3, 2, 1])
        for attestation in stored {
            let jws = try CompactJWS(parsing: attestation.jws)
            let envelope = try PostureReport.wireDecoder().decode(
                DetachedAttestation.Envelope.self, from: try jws.verifiedPayload(with: device.key.publicKey))
            #expect(envelope.seq == attestation.sequence)
            #expect(DetachedAttestation.digest(Data(try #require(attestation.reportPart).utf8)) == envelope.report)
            #expect(DetachedAttestation.digest(Data(try #require(attestation.journalPart).utf8)) == envelope.journal)
        }
        #expect(stored.first?.journalPart == quiet)
        #expect(stored[1].journalPart == busy)

        // A tampered envelope no longer verifies: the stored signature covers it.
        var forged = Array(stored[1].jws.split(separator: ".").map(String.init))
        forged[1] = stored[0].jws.split(separator: ".").map(String.init)[1]
        #expect(throws: AttestationRefusal.self) {
            try CompactJWS(parsing: forged.joined(separator: ".")).verifiedPayload(with: device.key.publicKey)
        }
    }

    @Test(arguments: StoreKind.available) func retentionDeletesOnlyPartsNoKeptAttestationNames(_ kind: StoreKind)
        async throws
    {
        try await use(kind)
        let device = try await signedDevice()
        let day = 86400.0
        // Days 0 and 1 name journal "old"; day 10 names "new" (the device's newest); the facts never change.
        let plan: [(Double, String)] = [(0, "old-1"), (day, "old-2"), (10 * day, "new")]
        for (index, (offset, journal)) in plan.enumerated() {
            let pending = try detached(
                device, UInt64(index + 1), facts: "facts", journal: journal, received: t0 + offset)
            guard case .success = try await accept(pending) else {
                throw TestFailure("attestation \(index + 1) refused")
            }
        }
        #expect(try await count("report_bodies") == 4)
        let pruned = try await store.pruneHistory(
            attestationsIssuedBefore: t0 + 5 * day, certificatesExpiredBefore: t0, noncesSupersededBefore: t0,
            batch: 1)
        #expect(pruned.attestations == 2)
        // "old-1" and "old-2" are gone; "facts" is named by the newest, "new" too.
        #expect(pruned.reportBodies == 2)
        #expect(try await count("report_bodies") == 2)
        let kept = try await store.attestations(deviceID: device.id, limit: 10)
        #expect(kept.map(\.sequence) == [3])
        #expect(kept.first?.reportPart == "facts")
        #expect(kept.first?.journalPart == "new")
    }
}

/// PostgreSQL's own: attestations live in one partition per day of receipt, and retention drops days.
extension StoreConformanceTests {
    func partitions() async throws -> [String] {
        try await store.backend.read { db in
            try db.rows(
                """
                SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'attestations'::regclass ORDER BY c.relname
                """
            ).map { try $0.text("name") }
        }
    }

    @Test(.enabled(if: StoreKind.available.contains(.postgresql)))
    func postgresqlDropsWholeDaysAndKeepsEachDevicesNewest() async throws {
        try await use(.postgresql)
        let today = (Date().timeIntervalSince1970 / 86400).rounded(.down) * 86400
        let tomorrow = Date(timeIntervalSince1970: today + 86400)
        let busy = try await signedDevice(nonceAt: Date(timeIntervalSince1970: today))
        let quiet = try await signedDevice(nonceAt: Date(timeIntervalSince1970: today))
        // busy: two today, one tomorrow; quiet: one today, its newest.
        for (sequence, received) in [(1, today + 60), (2, today + 120), (3, tomorrow.timeIntervalSince1970 + 60)] {
            let pending = try detached(
                busy, UInt64(sequence), facts: "facts", journal: "j\(sequence)",
                received: Date(timeIntervalSince1970: received))
            guard case .success = try await accept(pending) else { throw TestFailure("busy \(sequence) refused") }
        }
        let once = try detached(
            quiet, 1, facts: "facts", journal: "q1", received: Date(timeIntervalSince1970: today + 180))
        guard case .success = try await accept(once) else { throw TestFailure("quiet 1 refused") }
        let todays = "attestations_d" + Self.day(today)
        #expect(try await partitions().contains(todays))
        #expect(try await count(todays) == 3)

        let pruned = try await store.pruneHistory(
            attestationsIssuedBefore: tomorrow, certificatesExpiredBefore: Date(timeIntervalSince1970: 0),
            noncesSupersededBefore: Date(timeIntervalSince1970: 0), batch: 100)
        #expect(pruned.attestations == 2)
        let left = try await partitions()
        #expect(!left.contains(todays), "\(left)")
        #expect(left.contains("attestations_d" + Self.day(tomorrow.timeIntervalSince1970)))
        // quiet's only attestation moved to the default partition, still whole and verifiable.
        #expect(try await count("attestations_kept") == 1)
        #expect(try await store.attestations(deviceID: busy.id, limit: 10).map(\.sequence) == [3])
        let kept = try #require(try await store.attestations(deviceID: quiet.id, limit: 10).first)
        #expect(kept.sequence == 1)
        #expect(kept.journalPart == "q1")
        _ = try CompactJWS(parsing: kept.jws).verifiedPayload(with: quiet.key.publicKey)
    }

    static func day(_ start: Double) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd"
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: start))
    }
}
