import Crypto
import Logging
import PostureLinux
import PostureModel
import PostureTPM

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension Agent {
    /// Schema 2: the envelope signed, the report's parts beside it (a spool written by an earlier version
    /// holds schema 1 compact JWSs, delivered as they are). With a TPM-held key, the report part carries the
    /// boot PCRs and event log as they are now and the envelope a quote of those PCRs over this nonce and
    /// these parts: a report signed again for a fresh nonce is quoted again. The TPM's work (PCR reads, the
    /// quote, the signature) waits off the actor, so delivery and enforcement go on while a slow TPM answers.
    func sign(_ payload: AttestationPayload) async throws -> String {
        guard quotes, let tpm = key.tpm, case .observed(var facts, let source) = payload.report.tpm else {
            return try DetachedAttestation.sign(payload, with: key.signer).body
        }
        // The log is the same all boot and tens of kilobytes: a report waiting behind others (the collector
        // unreachable) goes without it, so a full spool is not thousands of copies.
        let waiting = (try? spool.sequences().filter { $0 != payload.sequence }.count) ?? 0
        if waiting == 0 {
            (facts.eventLog, facts.eventLogUnavailable) = bootEventLog
        } else {
            facts.eventLogUnavailable =
                "left out while \(waiting) earlier reports wait in the spool; the next report signed with an empty spool carries it"
        }
        let encoder = PostureReport.wireEncoder()
        let journalPart = try encoder.encode(payload.report.journal)
        let journal = DetachedAttestation.digest(journalPart)
        var payload = payload
        // A PCR extended between the read and the quote (rare after boot) makes them disagree: read again.
        for _ in 0..<3 {
            let values = try await tpm.pcrValuesWithoutBlocking(DetachedAttestation.quotedPCRs)
            facts.pcrs = values.map(\.hex)
            payload.report.tpm = .observed(facts, source: source)
            let reportPart = try encoder.encode(DetachedAttestation.ReportPart(payload.report))
            let qualifyingData = DetachedAttestation.quoteQualifyingData(
                nonce: payload.nonce, sequence: payload.sequence, report: DetachedAttestation.digest(reportPart),
                journal: journal)
            let quote = try await tpm.quoteWithoutBlocking(
                pcrs: DetachedAttestation.quotedPCRs, qualifyingData: qualifyingData)
            guard (try? TPMAttest(quote.attest))?.pcrDigest == Array(SHA256.hash(data: values.flatMap { $0 })) else {
                continue
            }
            return try await DetachedAttestation.signWithoutBlocking(
                payload, reportPart: reportPart, journalPart: journalPart,
                quote: DetachedAttestation.Quote(
                    attest: Base64URL.encode(Data(quote.attest)), sig: Base64URL.encode(Data(quote.signature))),
                with: key.signer
            ).body
        }
        throw AgentError(
            .tpm, "the boot PCRs kept changing while the TPM quoted them; the report waits for the next cycle")
    }

    /// The firmware's event log (base64), or why there is none. Root-only in securityfs; a machine without
    /// firmware measurements (a VM without a virtual TPM in its firmware) has no file.
    static func eventLog(_ options: AgentOptions) -> (log: String?, unavailable: String?) {
        let path = options.tpmEventLog
        do {
            let bytes = try options.root.readBytes(path, limit: TPMEventLog.maxBytes)
            return (Data(bytes).base64EncodedString(), nil)
        } catch {
            return (nil, "\(path): \(error)")
        }
    }
}

extension DeviceKey {
    /// Makes the attestation key that quotes (the same key each time on this TPM); false, with the reason
    /// logged, when the TPM cannot: the collector then refuses this device's reports, since a TPM-enrolled
    /// device must prove what booted.
    func loadAttestationKey(logger: Logger) -> Bool {
        guard let tpm else { return false }
        do {
            _ = try tpm.attestationKey()
            return true
        } catch {
            logger.error(
                "the TPM cannot make the attestation key, so reports carry no quote and the collector refuses them: \(error)",
                metadata: ["posture.event": "tpm-attestation-key-failed"])
            return false
        }
    }
}
