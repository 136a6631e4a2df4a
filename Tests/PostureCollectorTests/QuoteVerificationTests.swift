import Crypto
import Foundation
import PostureModel
import PostureTPM
import TestSupport
import Testing

@testable import PostureCollector

/// What the collector checks of a TPM device's quote, with quotes a real (software) TPM made: it must answer
/// this attestation's nonce and parts, be signed by the attestation key the device enrolled with, and cover
/// exactly the PCR values the report carries.
@Suite(.serialized, Requirement.available(programs: ["swtpm", "swtpm_setup"]))
struct QuoteVerificationTests {
    static func report() throws -> PostureReport {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("PostureVerdictTests/Fixtures/report.json")
        return try PostureReport.wireDecoder().decode(PostureReport.self, from: Data(contentsOf: url))
    }

    @Test func aQuoteCountsOnlyForItsNonceItsReportAndItsAttestationKey() throws {
        let swtpm = try SoftwareTPM("quote")
        let tpm = try TPM(tcti: swtpm.tcti)
        let attestationKey = try #require(try TPMPublicArea(tpm2bPublic: try tpm.attestationKey()).publicKey)
        let deviceKey = SoftwareSigningKey(P256.Signing.PrivateKey())
        let peer = PeerIdentity(
            identity: DeviceIdentity(trustDomain: "posture.test", deviceID: "device-1"),
            publicKey: deviceKey.publicKey, serial: "1")
        let verifier = AttestationVerifier(maxBodyBytes: 1 << 20, skew: .seconds(300))
        let base = try Self.report()
        let pcrs = try tpm.pcrValues(DetachedAttestation.quotedPCRs).map(\.hex)

        func body(
            nonce: String, quoting quotedNonce: String? = nil, claiming claimed: [String]? = nil, quote: Bool = true
        )
            throws -> [UInt8]
        {
            var report = base
            var facts = TPMFacts(present: true, manufacturer: "IBM", deviceKey: .tpm)
            facts.pcrs = claimed ?? pcrs
            report.tpm = .observed(facts, source: "test")
            let payload = AttestationPayload(
                deviceID: "device-1", sequence: 1, issuedAt: Date(), nonce: nonce, spoolGap: nil, report: report)
            let encoder = PostureReport.wireEncoder()
            let reportPart = try encoder.encode(DetachedAttestation.ReportPart(report))
            let journalPart = try encoder.encode(report.journal)
            let quoted = try tpm.quote(
                pcrs: DetachedAttestation.quotedPCRs,
                qualifyingData: DetachedAttestation.quoteQualifyingData(
                    nonce: quotedNonce ?? nonce, sequence: 1, report: DetachedAttestation.digest(reportPart),
                    journal: DetachedAttestation.digest(journalPart)))
            let signed = try DetachedAttestation.sign(
                payload, reportPart: reportPart, journalPart: journalPart,
                quote: quote
                    ? DetachedAttestation.Quote(
                        attest: Base64URL.encode(Data(quoted.attest)), sig: Base64URL.encode(Data(quoted.signature)))
                    : nil,
                with: deviceKey)
            return Array(signed.body.utf8)
        }
        func refusal(_ body: [UInt8], key: P256.Signing.PublicKey? = nil) -> AttestationRefusal? {
            do {
                _ = try verifier.verify(body: body, peer: peer, attestationKey: key ?? attestationKey, now: Date())
                return nil
            } catch {
                return error
            }
        }

        #expect(refusal(try body(nonce: "nonce-2")) == nil, "a quote over this nonce and report verifies")

        // A quote taken for an earlier nonce (a device replaying the boot it had before) is refused.
        let stale = refusal(try body(nonce: "nonce-2", quoting: "nonce-1"))
        #expect(stale?.code == .tpmEvidenceInvalid)
        #expect(stale?.message.contains("stale quote") == true, "\(String(describing: stale))")

        // PCR values other than those the TPM quoted (a clean boot claimed) are refused.
        var claimed = pcrs
        claimed[4] = String(repeating: "ab", count: 32)
        let forged = refusal(try body(nonce: "nonce-2", claiming: claimed))
        #expect(forged?.message.contains("not the PCR values the TPM quoted") == true, "\(String(describing: forged))")

        // The quoted values with more beside them (which a baseline would take whole): refused.
        let padded = refusal(try body(nonce: "nonce-2", claiming: pcrs + [String(repeating: "ab", count: 32)]))
        #expect(padded?.message.contains("tpm.value.pcrs") == true, "\(String(describing: padded))")

        // No quote from a device that enrolled with a TPM: refused, saying what is missing.
        let missing = refusal(try body(nonce: "nonce-2", quote: false))
        #expect(missing?.message.contains("each report carries a quote") == true, "\(String(describing: missing))")

        // Another TPM's attestation key did not sign it.
        let other = P256.Signing.PrivateKey().publicKey
        let foreign = refusal(try body(nonce: "nonce-2"), key: other)
        #expect(
            foreign?.message.contains("not signed by the attestation key") == true, "\(String(describing: foreign))")

        // A device that enrolled with a software key has no attestation key: its reports need no quote.
        #expect(throws: Never.self) {
            _ = try verifier.verify(body: try body(nonce: "nonce-3", quote: false), peer: peer, now: Date())
        }
    }
}
