import Crypto
import NIOConcurrencyHelpers
import PostureModel
import PostureStore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The checks that need no stored state, cheapest first, and nothing parsed before the signature
/// verified but the JWS header: size, JWS shape, key, signature, envelope, schema, device, clock.
struct AttestationVerifier: Sendable {
    var maxBodyBytes: Int
    var skew: Duration
    /// Each device's last decoded parts (one entry per device that attested): a part sent again under
    /// the same digest is checked against it and not parsed again.
    /// With a TPM device's part, its boot: the event log is replayed when the part changes (a reboot, an
    /// update), not per attestation, and kept nowhere in memory after (one entry, so the two never disagree).
    private let decodedParts = NIOLockedValueBox<[String: Known]>([:])

    private struct Known {
        var parts: DetachedAttestation.DecodedParts
        var boot: MeasuredBoot?
    }

    init(maxBodyBytes: Int, skew: Duration) {
        self.maxBodyBytes = maxBodyBytes
        self.skew = skew
    }

    private struct Envelope: Decodable {
        var schemaVersion: Int
        var deviceID: String
        var sequence: UInt64
        var issuedAt: Date
        var nonce: String
        var spoolGap: SpoolGap?
        var report: ReportVersion
    }

    private struct ReportVersion: Decodable {
        var schemaVersion: Int
    }

    /// What passed: the envelope's fields, what the store keeps as evidence, the device's latest state
    /// as stored (schema 1's payload JSON, or schema 2's envelope) and the payload decoded.
    struct Verified {
        var envelope: AttestationEnvelope
        var evidence: AttestationEvidence
        var latestState: Data
        var payload: AttestationPayload
        /// A TPM device's boot: PCRs its quote verified, and its event log replayed against them.
        var boot: MeasuredBoot?
    }

    /// `attestationKey`: the device's, when it enrolled with a TPM; its reports must then carry a quote.
    func verify(body: [UInt8], peer: PeerIdentity, attestationKey: P256.Signing.PublicKey? = nil, now: Date)
        throws(AttestationRefusal) -> Verified
    {
        guard body.count <= maxBodyBytes else {
            throw AttestationRefusal(
                .payloadTooLarge, "the attestation is \(body.count) bytes; the limit is \(maxBodyBytes)")
        }
        // Trim ASCII whitespace byte-wise (Foundation's trimming goes through NSString: slow on 4 kB).
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 }
        var start = body.startIndex
        var end = body.endIndex
        while start < end, isSpace(body[start]) { start += 1 }
        while end > start, isSpace(body[end - 1]) { end -= 1 }
        guard let text = String(validating: body[start..<end], as: UTF8.self) else {
            throw AttestationRefusal(
                .malformedJWS, "the body is not UTF-8 text; send the compact JWS as application/jose")
        }
        if let detached = try DetachedAttestation(body: body[start..<end]) {
            return try verify(detached, peer: peer, attestationKey: attestationKey, now: now)
        }
        guard attestationKey == nil else {
            throw AttestationRefusal(
                .tpmEvidenceInvalid,
                "this device enrolled with a TPM: its reports are schema 2 with a quote of the boot PCRs (upgrade posture-agent)"
            )
        }
        let jws = try CompactJWS(parsing: text)
        let payload = try jws.verifiedPayload(with: peer.publicKey)
        // One full decode on the common path; the envelope alone is decoded only to explain a failure
        // (an unknown schema version is refused as such, not as a malformed report).
        let envelope: Envelope
        let attestation: AttestationPayload?
        let fullError: (any Error)?
        do {
            attestation = try PostureReport.wireDecoder().decode(AttestationPayload.self, from: payload)
            fullError = nil
        } catch {
            attestation = nil
            fullError = error
        }
        if let attestation {
            envelope = Envelope(
                schemaVersion: attestation.schemaVersion, deviceID: attestation.deviceID,
                sequence: attestation.sequence, issuedAt: attestation.issuedAt, nonce: attestation.nonce,
                spoolGap: attestation.spoolGap, report: ReportVersion(schemaVersion: attestation.report.schemaVersion))
        } else {
            do {
                envelope = try PostureReport.wireDecoder().decode(Envelope.self, from: payload)
            } catch {
                throw AttestationRefusal(
                    .malformedPayload, "the signed payload is not an attestation: \(Self.describe(error))")
            }
        }
        guard envelope.schemaVersion == AttestationPayload.currentSchemaVersion,
            envelope.report.schemaVersion == PostureReport.currentSchemaVersion
        else {
            throw AttestationRefusal(
                .unsupportedSchema,
                "schema \(envelope.schemaVersion)/report \(envelope.report.schemaVersion) is not known; this collector reads \(AttestationPayload.currentSchemaVersion)/\(PostureReport.currentSchemaVersion)"
            )
        }
        try checkDeviceAndClock(envelope.deviceID, issuedAt: envelope.issuedAt, peer: peer, now: now)
        guard let attestation else {
            throw AttestationRefusal(
                .malformedPayload,
                "the signed report does not match the schema: \(fullError.map(Self.describe) ?? "not JSON")")
        }
        // Every value in its documented range before anything stores, sums or renders it.
        try PayloadLimits.check(attestation)
        return Verified(
            envelope: AttestationEnvelope(
                schemaVersion: envelope.schemaVersion, deviceID: envelope.deviceID, sequence: envelope.sequence,
                issuedAt: envelope.issuedAt, nonce: envelope.nonce, spoolGap: envelope.spoolGap),
            evidence: .compactJWS(text), latestState: payload, payload: attestation)
    }

    /// Schema 2: the envelope's signature, its fields, then the parts against the digests it names, and
    /// only then the parts parsed.
    private func verify(
        _ detached: DetachedAttestation, peer: PeerIdentity, attestationKey: P256.Signing.PublicKey?, now: Date
    ) throws(AttestationRefusal) -> Verified {
        let (envelope, bytes) = try detached.verifiedEnvelope(with: peer.publicKey)
        guard envelope.v == DetachedAttestation.schemaVersion else {
            throw AttestationRefusal(
                .unsupportedSchema,
                "a three-line attestation is schema \(DetachedAttestation.schemaVersion); this envelope says \(envelope.v)"
            )
        }
        let issuedAt = Date(timeIntervalSince1970: Double(envelope.iat))
        try checkDeviceAndClock(envelope.sub, issuedAt: issuedAt, peer: peer, now: now)
        let known = decodedParts.withLockedValue { $0[envelope.sub] }
        let (report, parts) = try detached.report(for: envelope, known: known?.parts)
        guard report.schemaVersion == PostureReport.currentSchemaVersion else {
            throw AttestationRefusal(
                .unsupportedSchema,
                "report schema \(report.schemaVersion) is not known; this collector reads \(PostureReport.currentSchemaVersion)"
            )
        }
        let attestation = AttestationPayload(
            deviceID: envelope.sub, sequence: envelope.seq, issuedAt: issuedAt, nonce: envelope.nonce,
            spoolGap: envelope.gap, report: report)
        try PayloadLimits.check(attestation)
        var boot: MeasuredBoot?
        var kept = parts
        if let attestationKey {
            try checkQuote(envelope, report: report, attestationKey: attestationKey)
            boot = measuredBoot(envelope, report: report, known: known)
            // The log is in the stored part and now in `boot`: the decoded part kept for the next report
            // does not hold it again (a device's tens of kilobytes, for every device).
            kept.report.tpm = kept.report.tpm?.withoutEventLog
        }
        decodedParts.withLockedValue { $0[envelope.sub] = Known(parts: kept, boot: boot) }
        return Verified(
            envelope: AttestationEnvelope(
                schemaVersion: envelope.v, deviceID: envelope.sub, sequence: envelope.seq, issuedAt: issuedAt,
                nonce: envelope.nonce, spoolGap: envelope.gap),
            evidence: .envelope(
                bytes, signature: detached.jws.signatureBytes,
                parts: [
                    ReportBody(digest: envelope.report, bytes: detached.reportPart),
                    ReportBody(digest: envelope.journal, bytes: detached.journalPart),
                ]),
            latestState: bytes, payload: attestation, boot: boot)
    }

    /// The report's event log replayed against its (verified) PCRs, once per distinct report part.
    private func measuredBoot(_ envelope: DetachedAttestation.Envelope, report: PostureReport, known: Known?)
        -> MeasuredBoot?
    {
        // The part came from `known` (its log dropped) exactly when its digest is known's: reuse its replay.
        if let known, known.parts.reportDigest == envelope.report, let boot = known.boot { return boot }
        return MeasuredBoot(reported: report)
    }

    /// The quote verified against the device's attestation key, this nonce and these parts: the report's PCR
    /// values are then what the TPM holds (the event log is replayed against them next, `measuredBoot`).
    private func checkQuote(
        _ envelope: DetachedAttestation.Envelope, report: PostureReport, attestationKey: P256.Signing.PublicKey
    ) throws(AttestationRefusal) {
        guard let quote = envelope.quote, case .observed(let tpm, _) = report.tpm, let pcrs = tpm.pcrs else {
            throw AttestationRefusal(
                .tpmEvidenceInvalid,
                "this device enrolled with a TPM: each report carries a quote (envelope quote) and the PCRs it covers (tpm.pcrs)"
            )
        }
        guard let attest = Base64URL.decode(quote.attest), let signature = Base64URL.decode(quote.sig) else {
            throw AttestationRefusal(.tpmEvidenceInvalid, "the envelope's quote is not base64url")
        }
        let qualifyingData = DetachedAttestation.quoteQualifyingData(
            nonce: envelope.nonce, sequence: envelope.seq, report: envelope.report, journal: envelope.journal)
        if let problem = MeasuredBoot.checkQuote(
            attest: Array(attest), signature: Array(signature), attestationKey: attestationKey,
            qualifyingData: qualifyingData, pcrs: pcrs)
        {
            throw AttestationRefusal(.tpmEvidenceInvalid, problem)
        }
    }

    private func checkDeviceAndClock(_ deviceID: String, issuedAt: Date, peer: PeerIdentity, now: Date)
        throws(AttestationRefusal)
    {
        guard deviceID == peer.identity.deviceID else {
            throw AttestationRefusal(
                .deviceMismatch, "the report names device \(deviceID) but the certificate is \(peer.identity.deviceID)")
        }
        guard issuedAt.timeIntervalSince(now) <= Double(skew.components.seconds) else {
            throw AttestationRefusal(
                .futureIssueTime,
                "issuedAt is \(issuedAt.timeIntervalSince(now).saturatingInt) s ahead of the collector's clock; check the device's time synchronisation"
            )
        }
    }

    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "not JSON" }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing \((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? "not JSON" : "bad value at \(path)"
        @unknown default:
            return "not JSON"
        }
    }
}
