import Crypto
import Foundation
import PostureModel
import Testing

/// Schema 2's parts: what a collector composes from a stored envelope, and what it takes from a device's
/// previous attestation instead of parsing again.
@Suite struct DetachedAttestationTests {
    let key = P256.Signing.PrivateKey()

    func signed(_ payload: AttestationPayload) throws -> (DetachedAttestation, DetachedAttestation.Envelope) {
        let detached = try DetachedAttestation.sign(payload, with: SoftwareSigningKey(key))
        let (envelope, _) = try detached.verifiedEnvelope(with: key.publicKey)
        return (detached, envelope)
    }

    @Test func theEnvelopeAndItsPartsComposeThePayloadTheDeviceSigned() throws {
        var payload = HostileInputTests.payload()
        payload.spoolGap = SpoolGap(firstSequence: 1, lastSequence: 1, count: 1)
        let (detached, envelope) = try signed(payload)
        let composed = try DetachedAttestation.payload(
            for: envelope, reportPart: detached.reportPart, journalPart: detached.journalPart)
        #expect(composed == payload)
        // Parts that are not the ones the envelope names compose nothing.
        #expect(throws: AttestationRefusal.self) {
            try DetachedAttestation.payload(
                for: envelope, reportPart: detached.journalPart, journalPart: detached.reportPart)
        }
    }

    /// Uptime changes with every report; it travels in the envelope, so the report part stays the same bytes.
    @Test func theUptimeTravelsInTheEnvelopeAndThePartStaysTheSame() throws {
        let first = HostileInputTests.payload()
        var later = first
        later.sequence = 2
        later.report.os.uptimeSeconds = .observed(7200.5, source: "/proc")
        let (one, oneEnvelope) = try signed(first)
        let (two, twoEnvelope) = try signed(later)
        #expect(one.reportPart == two.reportPart)
        #expect(oneEnvelope.up == 12 && twoEnvelope.up == 7200.5)
        let composed = try DetachedAttestation.payload(
            for: twoEnvelope, reportPart: two.reportPart, journalPart: two.journalPart)
        #expect(composed.report.os.uptimeSeconds == .observed(7200.5, source: "/proc"))
        #expect(composed == later)
    }

    @Test func aPartSentAgainUnderItsDigestIsTakenFromTheLastAttestation() throws {
        let first = HostileInputTests.payload()
        let (detached, envelope) = try signed(first)
        let (report, parts) = try detached.report(for: envelope, known: nil)
        #expect(report == first.report)

        // The journal moved on; the facts did not: the report part is reused, the journal parsed anew.
        var second = first
        second.sequence = 2
        second.report.journal = .unavailable(reason: "journal rotated", source: "t")
        let (next, nextEnvelope) = try signed(second)
        #expect(nextEnvelope.report == envelope.report)
        #expect(nextEnvelope.journal != envelope.journal)
        let (nextReport, nextParts) = try next.report(for: nextEnvelope, known: parts)
        #expect(nextReport == second.report)
        #expect(nextParts.journalDigest == nextEnvelope.journal)

        // A known part never stands in for bytes that do not hash to the digest: the check comes first.
        let forged = DetachedAttestation(jws: next.jws, reportPart: Data("{}".utf8), journalPart: next.journalPart)
        #expect(throws: AttestationRefusal.self) { try forged.report(for: nextEnvelope, known: parts) }
    }
}
