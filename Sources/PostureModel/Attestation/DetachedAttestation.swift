import Crypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Attestation schema 2: the agent signs a small envelope that names the report by the SHA-256 of its
/// two parts, and sends the parts beside it. Facts rarely change between reports, so a collector stores
/// each distinct part once and, per attestation, only the envelope and its signature; anyone with the
/// device certificate can still verify each one (PROTOCOL.md, "Re-verifying a stored attestation").
///
/// Wire form (`application/posture-attestation`): three lines, the compact JWS of the envelope, the
/// report part, the journal part. Compact JSON never holds a raw newline, so the split is unambiguous.
public struct DetachedAttestation: Sendable, Equatable {
    public static let schemaVersion = 2
    public static let mediaType = "application/posture-attestation"

    /// The signed envelope. Short keys, JWT-style, because this is what every attestation costs on disk.
    public struct Envelope: Codable, Sendable, Equatable {
        /// Always 2.
        public var v: Int
        /// The device ID (the certificate's).
        public var sub: String
        public var seq: UInt64
        /// Signing time, seconds since the epoch.
        public var iat: Int64
        /// When the facts were gathered, seconds since the epoch.
        public var collected: Int64
        public var nonce: String
        /// base64url SHA-256 of the report part's bytes, as sent.
        public var report: String
        /// base64url SHA-256 of the journal part's bytes, as sent.
        public var journal: String
        public var gap: SpoolGap?
        /// The uptime in seconds, when observed: it changes with every report, so it travels here and the
        /// report part carries 0 in its place, staying the same bytes while the facts do.
        public var up: Double?
        /// A device whose key is in a TPM: its attestation key's quote of the boot PCRs, over this
        /// attestation's nonce and parts (`quoteQualifyingData`).
        public var quote: Quote?

        public init(
            v: Int, sub: String, seq: UInt64, iat: Int64, collected: Int64, nonce: String, report: String,
            journal: String, gap: SpoolGap?, up: Double? = nil, quote: Quote? = nil
        ) {
            self.quote = quote
            self.up = up
            self.v = v
            self.sub = sub
            self.seq = seq
            self.iat = iat
            self.collected = collected
            self.nonce = nonce
            self.report = report
            self.journal = journal
            self.gap = gap
        }
    }

    /// A TPM2_Quote: the TPMS_ATTEST the TPM signed and its ECDSA signature (r‖s), both base64url.
    public struct Quote: Codable, Sendable, Equatable {
        public var attest: String
        public var sig: String

        public init(attest: String, sig: String) {
            self.attest = attest
            self.sig = sig
        }
    }

    /// What a quote's qualifying data is: SHA-256 of a label, the collector's nonce, the sequence and the
    /// digests of the two parts, so a quote answers this nonce for this report only and vouches for these PCR
    /// values (they are in the report part).
    public static func quoteQualifyingData(nonce: String, sequence: UInt64, report: String, journal: String)
        -> [UInt8]
    {
        Array(SHA256.hash(data: Array("posture quote v1\0\(nonce)\0\(sequence)\0\(report)\0\(journal)".utf8)))
    }

    /// The PCRs a quote covers: the boot chain (firmware, option ROMs, boot loader, Secure Boot policy, and
    /// the kernel and its command line where the boot loader measures them into 8 and 9).
    public static let quotedPCRs = Array(0...9)

    /// Everything the report holds but the time it was gathered and the journal's events: what stays the
    /// same from one report to the next on a quiet machine.
    public struct ReportPart: Codable, Sendable, Equatable {
        public var schemaVersion: Int
        public var agentVersion: String
        public var os: OSFacts
        public var diskEncryption: Fact<DiskEncryptionFacts>
        public var firewall: FirewallFacts
        public var secureBoot: Fact<SecureBootFacts>
        public var kernelLockdown: Fact<KernelLockdownFacts>
        public var securityModules: Fact<SecurityModuleFacts>
        public var sshd: Fact<SSHDFacts>
        public var sudo: Fact<SudoFacts>?
        public var patches: PatchFacts?
        public var sessions: Fact<SessionFacts>?
        public var agent: AgentFacts?
        public var tpm: Fact<TPMFacts>?

        /// The report's facts but its collection time and journal; an observed uptime as 0 (`Envelope.up`).
        public init(_ report: PostureReport) {
            schemaVersion = report.schemaVersion
            agentVersion = report.agentVersion
            os = report.os
            if case .observed(_, let source) = report.os.uptimeSeconds {
                os.uptimeSeconds = .observed(0, source: source)
            }
            diskEncryption = report.diskEncryption
            firewall = report.firewall
            secureBoot = report.secureBoot
            kernelLockdown = report.kernelLockdown
            securityModules = report.securityModules
            sshd = report.sshd
            sudo = report.sudo
            patches = report.patches
            sessions = report.sessions
            agent = report.agent
            tpm = report.tpm
        }

        func report(collectedAt: Date, journal: Fact<JournalFacts>, uptime: Double?) -> PostureReport {
            var os = os
            if let uptime, case .observed(_, let source) = os.uptimeSeconds {
                os.uptimeSeconds = .observed(uptime, source: source)
            }
            var report = PostureReport(
                collectedAt: collectedAt, agentVersion: agentVersion, os: os, diskEncryption: diskEncryption,
                firewall: firewall, journal: journal, secureBoot: secureBoot, kernelLockdown: kernelLockdown,
                securityModules: securityModules, sshd: sshd, sudo: sudo, tpm: tpm, patches: patches,
                sessions: sessions)
            report.schemaVersion = schemaVersion
            report.agent = agent
            return report
        }
    }

    public let jws: CompactJWS
    /// The parts' bytes exactly as signed (by digest).
    public let reportPart: Data
    public let journalPart: Data

    public init(jws: CompactJWS, reportPart: Data, journalPart: Data) {
        self.jws = jws
        self.reportPart = reportPart
        self.journalPart = journalPart
    }

    /// The body to send.
    public var body: String {
        jws.compact + "\n" + String(decoding: reportPart, as: UTF8.self) + "\n"
            + String(decoding: journalPart, as: UTF8.self)
    }

    /// Splits the report of `payload` into its parts and signs the envelope that names them.
    public static func sign(_ payload: AttestationPayload, with signer: some ES256Signer) throws
        -> DetachedAttestation
    {
        let encoder = PostureReport.wireEncoder()
        return try sign(
            payload, reportPart: try encoder.encode(ReportPart(payload.report)),
            journalPart: try encoder.encode(payload.report.journal), with: signer)
    }

    /// Signs the envelope of `payload` over parts already encoded: a sender whose facts did not change
    /// encodes them once (only `payload.report`'s collection time and uptime are read).
    public static func sign(
        _ payload: AttestationPayload, reportPart: Data, journalPart: Data, quote: Quote? = nil,
        with signer: some ES256Signer
    ) throws -> DetachedAttestation {
        let envelope = try envelope(payload, reportPart: reportPart, journalPart: journalPart, quote: quote)
        let jws = try CompactJWS.sign(payload: envelope, with: signer)
        return DetachedAttestation(jws: jws, reportPart: reportPart, journalPart: journalPart)
    }

    /// The same, the signature made off the caller's thread (a TPM-held key).
    public static func signWithoutBlocking(
        _ payload: AttestationPayload, reportPart: Data, journalPart: Data, quote: Quote? = nil,
        with signer: some ES256Signer
    ) async throws -> DetachedAttestation {
        let envelope = try envelope(payload, reportPart: reportPart, journalPart: journalPart, quote: quote)
        let jws = try await CompactJWS.signWithoutBlocking(payload: envelope, with: signer)
        return DetachedAttestation(jws: jws, reportPart: reportPart, journalPart: journalPart)
    }

    private static func envelope(_ payload: AttestationPayload, reportPart: Data, journalPart: Data, quote: Quote?)
        throws -> Data
    {
        try PostureReport.wireEncoder().encode(
            Envelope(
                v: schemaVersion, sub: payload.deviceID, seq: payload.sequence,
                iat: Int64(payload.issuedAt.timeIntervalSince1970.rounded(.down)),
                collected: Int64(payload.report.collectedAt.timeIntervalSince1970.rounded(.down)),
                nonce: payload.nonce, report: digest(reportPart), journal: digest(journalPart), gap: payload.spoolGap,
                up: payload.report.os.uptimeSeconds.value, quote: quote))
    }

    /// base64url of the SHA-256 of `bytes`: how an envelope names a part, and how a store keys it.
    public static func digest(_ bytes: Data) -> String { Base64URL.encode(Data(SHA256.hash(data: bytes))) }

    /// Splits a body of three lines; nil when it is not one (then it may be a schema 1 compact JWS).
    public init?(body text: Substring) throws(AttestationRefusal) {
        try self.init(body: ArraySlice(text.utf8))
    }

    /// The same from the body's bytes: two searches for a newline and two copies, nothing decoded.
    public init?(body bytes: ArraySlice<UInt8>) throws(AttestationRefusal) {
        let newline = UInt8(ascii: "\n")
        guard let first = bytes.firstIndex(of: newline) else { return nil }
        guard let second = bytes[(first + 1)...].firstIndex(of: newline),
            !bytes[(second + 1)...].contains(newline)
        else {
            throw AttestationRefusal(
                .malformedJWS,
                "a schema 2 attestation is three lines (envelope JWS, report part, journal part); this body has \(bytes.count { $0 == newline } + 1)"
            )
        }
        jws = try CompactJWS(parsing: String(decoding: bytes[..<first], as: UTF8.self))
        reportPart = Data(bytes[(first + 1)..<second])
        journalPart = Data(bytes[(second + 1)...])
    }

    /// The envelope, once its signature verified under `key` and its header is the canonical one (which
    /// is why a stored attestation need not keep the header), and its bytes.
    public func verifiedEnvelope(with key: P256.Signing.PublicKey) throws(AttestationRefusal) -> (Envelope, Data) {
        let bytes = try jws.verifiedPayload(with: key)
        guard jws.hasCanonicalHeader else {
            throw AttestationRefusal(
                .malformedJWS,
                "a schema 2 envelope's protected header is exactly {\"alg\":\"ES256\",\"kid\":…,\"typ\":\"\(CompactJWS.attestationType)\"} with sorted keys"
            )
        }
        do {
            return (try PostureReport.wireDecoder().decode(Envelope.self, from: bytes), bytes)
        } catch {
            throw AttestationRefusal(.malformedPayload, "the signed envelope is not a schema 2 envelope")
        }
    }

    /// The parts, once each matches the digest the verified envelope names, decoded into the report.
    public func report(for envelope: Envelope) throws(AttestationRefusal) -> PostureReport {
        try report(for: envelope, known: nil).report
    }

    /// The decoded parts of an earlier attestation, by the digests they were sent under.
    public struct DecodedParts: Sendable {
        public var reportDigest: String
        public var report: ReportPart
        public var journalDigest: String
        public var journal: Fact<JournalFacts>
    }

    /// The report, each part checked against the digest the verified envelope names; a part whose digest
    /// `known` holds is taken from there instead of being parsed again (a quiet device sends the same
    /// facts every time). Also returns the parts, for the next call.
    public func report(for envelope: Envelope, known: DecodedParts?) throws(AttestationRefusal)
        -> (report: PostureReport, parts: DecodedParts)
    {
        try Self.report(for: envelope, reportPart: reportPart, journalPart: journalPart, known: known)
    }

    /// The attestation in schema 1's shape, from a verified envelope and the parts it names (a store
    /// keeps a device's newest state as its envelope and composes the payload when it is read).
    public static func payload(for envelope: Envelope, reportPart: Data, journalPart: Data)
        throws(AttestationRefusal) -> AttestationPayload
    {
        let report = try report(for: envelope, reportPart: reportPart, journalPart: journalPart, known: nil).report
        return AttestationPayload(
            deviceID: envelope.sub, sequence: envelope.seq, issuedAt: Date(timeIntervalSince1970: Double(envelope.iat)),
            nonce: envelope.nonce, spoolGap: envelope.gap, report: report)
    }

    static func report(for envelope: Envelope, reportPart: Data, journalPart: Data, known: DecodedParts?)
        throws(AttestationRefusal) -> (report: PostureReport, parts: DecodedParts)
    {
        guard Self.digest(reportPart) == envelope.report, Self.digest(journalPart) == envelope.journal else {
            throw AttestationRefusal(
                .malformedPayload, "a report part does not match the digest its signed envelope names")
        }
        let decoder = PostureReport.wireDecoder()
        func decode<Part: Decodable>(_ type: Part.Type, _ bytes: Data) throws(AttestationRefusal) -> Part {
            do {
                try StrictJSON.check(bytes)
            } catch {
                throw AttestationRefusal(.malformedPayload, "a report part is not one reading of JSON: \(error)")
            }
            do {
                return try decoder.decode(type, from: bytes)
            } catch {
                throw AttestationRefusal(.malformedPayload, "a report part does not match the schema: \(error)")
            }
        }
        let part: ReportPart
        if let known, known.reportDigest == envelope.report {
            part = known.report
        } else {
            part = try decode(ReportPart.self, reportPart)
        }
        let journal: Fact<JournalFacts>
        if let known, known.journalDigest == envelope.journal {
            journal = known.journal
        } else {
            journal = try decode(Fact<JournalFacts>.self, journalPart)
        }
        return (
            part.report(
                collectedAt: Date(timeIntervalSince1970: Double(envelope.collected)), journal: journal,
                uptime: envelope.up),
            DecodedParts(
                reportDigest: envelope.report, report: part, journalDigest: envelope.journal, journal: journal)
        )
    }
}

extension CompactJWS {
    /// The protected header an ES256 signer writes for `kid`, base64url: what schema 2 requires.
    public static func canonicalHeader(kid: String) -> String {
        let header = Header(alg: "ES256", kid: kid, typ: attestationType)
        return Base64URL.encode((try? JSONEncoder.sortedKeys.encode(header)) ?? Data())
    }

    public var hasCanonicalHeader: Bool {
        compact.utf8.starts(with: Self.canonicalHeader(kid: header.kid).utf8 + [UInt8(ascii: ".")])
    }

    /// A schema 2 attestation's JWS put back together from what a store keeps: the signer's key
    /// thumbprint, the envelope and the raw signature.
    public static func reassembled(kid: String, payload: Data, signature: Data) -> String {
        canonicalHeader(kid: kid) + "." + Base64URL.encode(payload) + "." + Base64URL.encode(signature)
    }

    /// The raw signature (r‖s), for a store that keeps it as bytes.
    public var signatureBytes: Data { signature }
}
