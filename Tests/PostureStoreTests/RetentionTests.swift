import Foundation
import PostureModel
import PostureStore
import PostureStoreSQLite
import Testing

/// Retention deletes old attestations, long-expired certificates and superseded nonces in batches, and never
/// a device's newest attestation or certificate, or the nonce it reports under.
extension StoreConformanceTests {
    @Test(arguments: StoreKind.available) func retentionKeepsEachDevicesNewestEvidence(_ kind: StoreKind) async throws {
        try await use(kind)
        let busy = try await enrolledDevice()
        let quiet = try await enrolledDevice()
        // busy reports at t0+100, +200, +300; quiet once, at t0+100.
        for sequence in UInt64(1)...3 {
            let at = t0 + Double(sequence) * 100
            let pending = attestation(
                busy, sequence, nonce: "n\(sequence - 1)-\(busy)", issued: at, received: at,
                next: "n\(sequence)-\(busy)")
            guard case .success = try await accept(pending) else { throw TestFailure("attestation refused") }
        }
        let once = attestation(
            quiet, 1, nonce: "n0-\(quiet)", issued: t0 + 100, received: t0 + 100, next: "n1-\(quiet)")
        guard case .success = try await accept(once) else { throw TestFailure("attestation refused") }
        // busy renewed twice (certificates expiring at +1, +2, +3 days); quiet never (expires at +1 day).
        for day in 2...3 {
            try await store.insertCertificate(
                CertificateRecord(
                    serial: "renewal-\(day)", deviceID: busy, notBefore: t0 + Double(day - 1) * 86400,
                    notAfter: t0 + Double(day) * 86400, pem: "pem"))
        }

        let pruned = try await store.pruneHistory(
            attestationsIssuedBefore: t0 + 250, certificatesExpiredBefore: t0 + 2.5 * 86400,
            noncesSupersededBefore: t0 + 100_000, batch: 1)
        #expect(pruned.attestations == 2)
        #expect(pruned.certificates == 2)
        // The superseded nonces left: busy's n2 and quiet's n0 (busy's n0 and n1 went when a newer one was
        // first used); each device's current one stays.
        #expect(pruned.nonces == 2)
        #expect(try await store.attestations(deviceID: busy, limit: 10).map(\.sequence) == [3])
        #expect(try await store.attestations(deviceID: quiet, limit: 10).map(\.sequence) == [1])
        #expect(try await store.certificates(deviceID: busy).map(\.serial) == ["renewal-3"])
        #expect(try await store.certificates(deviceID: quiet).count == 1)

        // A second pass finds nothing more; a replay of a pruned attestation is still refused.
        let again = try await store.pruneHistory(
            attestationsIssuedBefore: t0 + 250, certificatesExpiredBefore: t0 + 2.5 * 86400,
            noncesSupersededBefore: t0 + 100_000, batch: 1)
        #expect(again == PrunedHistory())
        // An agent offline long past its nonce's expiry still delivers what it signed under it (late).
        let spooled = attestation(
            busy, 4, nonce: "n3-\(busy)", issued: t0 + 350, received: t0 + 100_000, next: "n4-\(busy)")
        guard case .success = try await accept(spooled) else {
            Issue.record("a spooled report signed under the current nonce was refused after retention")
            return
        }
        // A replay of a pruned attestation is refused by its sequence.
        let replay = attestation(busy, 1, nonce: "n0-\(busy)", issued: t0 + 100, received: t0 + 100_001, next: "x")
        guard case .failure(let refusal) = try await accept(replay) else {
            Issue.record("a replay of a pruned attestation was accepted")
            return
        }
        #expect(refusal.code == .sequenceNotIncreasing, "\(refusal)")
    }
}
