import Crypto
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import PostureAccess
import PostureModel
import PostureStore
import PostureVerdict
import X509

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What the routes call: enrollment, ingest, nonces, renewal, and the record of refusals.
public struct CollectorCore: Sendable {
    public let configuration: CollectorConfiguration
    public let ca: CertificateAuthority
    public let store: any PostureStore
    let peers: PeerIdentities
    let verifier: AttestationVerifier
    let committer: AttestationCommitter
    let logger: Logger
    /// The device listener's port once bound (listen.devices may say port 0).
    let boundDevicesPort = NIOLockedValueBox<Int?>(nil)
    let keys: SigningKeys
    let sshCA: SSHCertificateAuthority
    let verdicts: VerdictService
    let transmitter: SignalTransmitter
    /// OAuth access tokens of Shared Signals receivers, when `ssf.accessTokens` is set.
    let receiverTokens: ReceiverAccessTokens?
    let issuerSource: Issuer
    var issuer: String { issuerSource.value }
    let apiTokens = NIOLockedValueBox<[String: (APITokenRecord, Date)]>([:])
    let attestationKeys = NIOLockedValueBox<[String: KnownAttestationKey]>([:])
    let metrics = CollectorMetrics()
    /// One audit-trail verification at a time, for the API and the dashboard.
    let auditChecks = AuditChecks()
    /// The operators' queries and actions, for the API and the dashboard.
    var fleet: FleetOperations { FleetOperations(collector: self) }
    /// Policy engines' verdict pulls, for the maturity stages.
    let verdictPulls: VerdictPulls
    /// The fleet summary's stage counts, at most a minute old.
    let stageCounts = StageCounts()
    /// Bounds what refusals cost: one security event and log line per source, code and minute.
    let eventThrottle = SecurityEventThrottle()
    /// The server certificate's expiry, as `ServerCertificate` last set it (for `/metrics`).
    let serverCertificateNotAfter = NIOLockedValueBox<Date?>(nil)
    /// `tpm.endorsementRoots`, read at start.
    let endorsementRoots: [Certificate]

    init(
        configuration: CollectorConfiguration, ca: CertificateAuthority, store: any PostureStore, keys: SigningKeys,
        sshCA: SSHCertificateAuthority, logger: Logger
    ) throws {
        self.sshCA = sshCA
        self.configuration = configuration
        self.ca = ca
        self.store = store
        self.logger = logger
        self.keys = keys
        verdictPulls = VerdictPulls(store: store, logger: logger)
        let issuer = Issuer(configuration)
        issuerSource = issuer
        transmitter = try SignalTransmitter(
            store: store, keys: keys, issuer: issuer, trustDomain: configuration.trustDomain, metrics: metrics,
            logger: logger, ssf: configuration.ssf)
        do {
            receiverTokens = try configuration.ssf.accessTokens.map {
                try ReceiverAccessTokens($0, issuer: issuer, caBundle: configuration.ssf.caBundle, logger: logger)
            }
        } catch {
            throw CollectorError(.configuration, "ssf.caBundle is not a readable PEM bundle: \(error)")
        }
        do {
            verdicts = try VerdictService(
                store: store, keys: keys, issuer: issuer, trustDomain: configuration.trustDomain,
                policySource: PolicySource(path: configuration.policyPath), logger: logger)
        } catch {
            throw CollectorError(.configuration, "policy refused: \(error)")
        }
        peers = PeerIdentities(trustDomain: configuration.trustDomain)
        endorsementRoots = try TPMEnrollment.loadRoots(configuration.tpm.endorsementRoots)
        verifier = AttestationVerifier(
            maxBodyBytes: configuration.attestations.maxBodyBytes, skew: configuration.attestations.skew.duration)
        committer = AttestationCommitter(
            store: store, policy: FreshnessPolicy(skew: configuration.attestations.skew.duration),
            maxWaiting: configuration.limits.storeQueueDepth)
    }

    /// The device API's URL for an agent that reached the enrollment listener as `host`.
    /// Device certificates are valid from this long before issue: the attestation skew, and at least the
    /// hour the server's own certificate allows.
    var deviceCertificateBackdate: TimeInterval {
        max(CertificateAuthority.clockSlack, Double(configuration.attestations.skew.duration.components.seconds))
    }

    func devicesURL(requestHost: String?) -> String {
        if let configured = configuration.devicesURL { return configured }
        let port = boundDevicesPort.withLockedValue { $0 } ?? HostPort(configuration.listen.devices)?.port ?? 8444
        var host = requestHost ?? "localhost"
        if let colon = host.lastIndex(of: ":"), !host.hasSuffix("]"), host.firstIndex(of: ":") == colon {
            host = String(host[..<colon])
        } else if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            host = String(host[...close])
        }
        return "https://\(host):\(port)"
    }

    func enroll(_ request: EnrollmentRequest, requestHost: String?) async throws(AttestationRefusal) -> CertificateGrant
    {
        // Exactly machine-id(5)'s form: one machine cannot enroll twice under look-alike IDs (upper case,
        // full-width digits, padding).
        let machineID = request.machineID
        guard DeviceIdentity.isMachineID(machineID) else {
            throw AttestationRefusal(
                .malformedRequest,
                "machineID must be exactly the 32 lowercase hex digits of /etc/machine-id (machine-id(5)), got \(machineID.utf8.count) bytes"
            )
        }
        guard request.hostname.utf8.count <= 253,
            !request.hostname.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw AttestationRefusal(
                .malformedRequest, "hostname must be at most 253 bytes with no control characters (hostname(7))")
        }
        let key = try CertificateAuthority.devicePublicKey(fromCSR: request.csr)
        let now = Date()
        var tpm: TPMIdentity?
        if let evidence = request.tpm {
            try await checkToken(request.token, now: now)
            let verified = try await tpmEnrollment().verify(evidence, token: request.token, deviceKey: key, now: now)
            tpm = TPMIdentity(
                endorsementFingerprint: verified.endorsementFingerprint,
                attestationKey: Data(verified.attestationKey).base64EncodedString(),
                firmwareVersion: verified.firmwareVersion, bootBaseline: verified.bootBaseline)
        }
        let deviceID = UUID().uuidString.lowercased()
        let hostname = request.hostname
        do {
            let certificate = try ca.issueDeviceCertificate(
                deviceID: deviceID, publicKey: key, hostname: hostname,
                lifetime: configuration.certificates.deviceLifetime.duration, now: now,
                backdate: deviceCertificateBackdate, keyProtection: tpm == nil ? .software : .tpm,
                endorsementFingerprint: tpm?.endorsementFingerprint)
            let pem = try certificate.serializeAsPEM().pemString
            let nonce = NonceFactory.make(now: now, lifetime: configuration.attestations.nonceLifetime.duration)
            let device = DeviceRecord(
                id: deviceID, machineID: machineID, hostname: hostname, labels: [:], status: .active,
                enrolledAt: now, keyThumbprint: KeyThumbprint(key).value, keyProtection: tpm == nil ? .software : .tpm,
                tpm: tpm)
            try await store.enroll(
                Enrollment(
                    tokenHash: EnrollmentTokens.hash(request.token), device: device,
                    certificate: CertificateRecord(
                        serial: certificate.serialNumber.description, deviceID: deviceID,
                        notBefore: certificate.notValidBefore,
                        notAfter: certificate.notValidAfter, pem: pem),
                    nonce: nonce),
                now: now)
            await verdicts.enrolled(device)
            logger.notice(
                "device enrolled",
                metadata: [
                    "posture.event": "device-enrolled",
                    "posture.device": "\(deviceID)", "posture.machine_id": "\(machineID)",
                    "posture.hostname": "\(hostname)",
                    "posture.key_protection": "\(tpm == nil ? "software" : "tpm")",
                ])
            return CertificateGrant(
                deviceID: deviceID, identity: DeviceIdentity(trustDomain: ca.trustDomain, deviceID: deviceID).uri,
                certificate: pem, caBundle: ca.pem, notAfter: certificate.notValidAfter, nonce: nonce,
                devicesURL: devicesURL(requestHost: requestHost),
                devicesURLs: configuration.devicesURLs.count > 1 ? configuration.devicesURLs : nil,
                verdictKeys: keys.jwks())
        } catch let refusal as AttestationRefusal {
            throw refusal
        } catch let refused as StoreRefusal {
            throw refused.refusal
        } catch {
            throw AttestationRefusal(.internalError, "enrollment failed in the collector: \(error)")
        }
    }

    /// The first step of a TPM enrollment: for a holder of a valid token, a secret sealed to the TPM.
    func tpmChallenge(_ request: TPMChallengeRequest) async throws(AttestationRefusal) -> TPMChallenge {
        let now = Date()
        try await checkToken(request.token, now: now)
        return try await tpmEnrollment().challenge(request, now: now)
    }

    /// A token that could enroll now (it is consumed only by the enrollment's own transaction): checked before
    /// TPM evidence costs the collector a certificate chain and ECDH.
    private func checkToken(_ token: String, now: Date) async throws(AttestationRefusal) {
        let tokens: [TokenRecord]
        do {
            tokens = try await store.tokens()
        } catch {
            throw AttestationRefusal(.internalError, "could not read the enrollment tokens: \(error)")
        }
        let hash = EnrollmentTokens.hash(token)
        if let refusal = EnrollmentDecision.checkToken(tokens.first { $0.hash == hash }, now: now) {
            throw refusal.refusal
        }
    }

    /// TPM enrollment with this collector's roots and the store's credential key.
    func tpmEnrollment() throws(AttestationRefusal) -> TPMEnrollment {
        guard !endorsementRoots.isEmpty else {
            throw AttestationRefusal(
                .tpmUntrusted,
                "this collector trusts no TPM manufacturer: set tpm.endorsementRoots in collector.yaml to the EK CA certificates, or enroll with --tpm off"
            )
        }
        // From the CA key every collector of the fleet holds, not from the store: whoever reads the store
        // must not be able to compute the credential a TPM alone can recover.
        let key = ca.fleetKey("posture tpm credential v1")
        return TPMEnrollment(roots: endorsementRoots, credentialKey: key)
    }

    func ingest(body: [UInt8], peer: PeerIdentity) async throws(AttestationRefusal) -> IngestResponse {
        let now = Date()
        if let refusal = await verdicts.startingRefusal() { throw refusal }
        // The signature verified before anything but the JWS header was parsed; the report is parsed whole
        // (for the verdict) in the same step as the envelope.
        let verified = try verifier.verify(
            body: body, peer: peer, attestationKey: try await attestationKey(peer.identity.deviceID), now: now)
        let (envelope, attestation) = (verified.envelope, verified.payload)
        let counts = attestation.report.journal.value?.counts ?? [:]
        let osRelease = attestation.report.os.osRelease.value ?? [:]
        let pending = PendingAttestation(
            envelope: envelope, evidence: verified.evidence, payload: verified.latestState, receivedAt: now,
            nextNonce: NonceFactory.make(now: now, lifetime: configuration.attestations.nonceLifetime.duration),
            journalCounts: counts.isEmpty
                ? nil : (try? PostureReport.wireEncoder().encode(counts)).map { String(decoding: $0, as: UTF8.self) },
            os: osRelease["ID"] ?? "", osVersion: osRelease["VERSION_ID"] ?? "")
        let commitStart = ContinuousClock.now
        let receipt = try await committer.submit(pending).get()
        metrics.storeCommit(ContinuousClock.now - commitStart)
        let verdict = await verdicts.attested(
            deviceID: envelope.deviceID, payload: attestation, boot: verified.boot, now: now)
        let signed = verdict == nil ? nil : await verdicts.signedVerdict(envelope.deviceID, now: now)
        return IngestResponse(receipt: receipt, signed: signed)
    }

    /// The device's attestation key when it enrolled with a TPM (nil for a software key), read from the store
    /// once per device: a device's key does not change (a new TPM is a new enrollment, a new device).
    private func attestationKey(_ deviceID: String) async throws(AttestationRefusal) -> P256.Signing.PublicKey? {
        if let known = attestationKeys.withLockedValue({ $0[deviceID] }) { return known.key }
        let device: DeviceRecord?
        do {
            device = try await store.device(deviceID)
        } catch {
            throw AttestationRefusal(.internalError, "cannot read device \(deviceID): \(error)")
        }
        var key: P256.Signing.PublicKey?
        if device?.keyProtection == .tpm, device?.tpm == nil {
            throw AttestationRefusal(
                .tpmEvidenceInvalid,
                "device \(deviceID) is recorded as TPM-bound without an attestation key to check its quotes with; enroll it again (postured enroll --force)"
            )
        }
        if let encoded = device?.tpm?.attestationKey {
            guard let bytes = Data(base64Encoded: encoded),
                let area = try? TPMPublicArea(tpm2bPublic: Array(bytes)), let point = area.publicKey
            else {
                throw AttestationRefusal(
                    .internalError, "device \(deviceID)'s stored attestation key is not a P-256 TPM2B_PUBLIC")
            }
            key = point
        }
        attestationKeys.withLockedValue { $0[deviceID] = KnownAttestationKey(key: key) }
        return key
    }

    /// Checks `Authorization: Bearer TOKEN`, or else an API client certificate on the connection, and the
    /// scope. Tokens are cached for 5 s, so a revocation takes effect within 5 s.
    func authorize(_ request: Request, channel: any Channel, scope: String) async throws(AttestationRefusal)
        -> APITokenRecord
    {
        guard let hash = await credentialHash(request, channel: channel) else {
            throw AttestationRefusal(
                .unauthorized,
                "send Authorization: Bearer TOKEN (`posture-collector apitoken create --scope \(scope)`) or present an API client certificate (`posture-collector apitoken certificate --scope \(scope) --csr FILE`)"
            )
        }
        return try await authorize(hash: hash, scope: scope)
    }

    /// A Shared Signals receiver's credential: an OAuth access token of `ssf.accessTokens` when that is set
    /// and the bearer token is a JWT, else an API token or certificate with `ssf:manage`.
    func authorizeReceiver(_ request: Request, channel: any Channel) async throws(AttestationRefusal)
        -> SignalReceiver
    {
        if let receiverTokens, let header = request.headers[.authorization], header.hasPrefix("Bearer "),
            case let bearer = String(header.dropFirst(7).filter { $0 != " " }), ReceiverAccessTokens.isJWT(bearer)
        {
            return try await receiverTokens.receiver(for: bearer)
        }
        return SignalReceiver(apiToken: try await authorize(request, channel: channel, scope: "ssf:manage"))
    }

    /// The stored hash of the request's credential: its bearer token, else its API client certificate.
    func credentialHash(_ request: Request, channel: any Channel) async -> String? {
        if let header = request.headers[.authorization], header.hasPrefix("Bearer ") {
            return EnrollmentTokens.hash(String(header.dropFirst(7).filter { $0 != " " }))
        }
        if let clientID = await Self.apiClientID(of: channel, trustDomain: configuration.trustDomain) {
            return APITokens.certificateHash(clientID: clientID)
        }
        return nil
    }

    /// The credential with this hash, if it is usable and has `scope` (or `admin`).
    func authorize(hash: String, scope: String) async throws(AttestationRefusal) -> APITokenRecord {
        let record = try await authenticate(hash: hash, suggesting: scope)
        try Caller(token: record).require(scope)
        return record
    }

    /// The credential with this hash, if it is usable; cached for 5 s, so a revoked token is refused within
    /// 5 s. `scope` is what the refusal suggests creating a token with.
    func authenticate(hash: String, suggesting scope: String) async throws(AttestationRefusal) -> APITokenRecord {
        let now = Date()
        var record = apiTokens.withLockedValue { cache in
            cache[hash].flatMap { $0.1 > now ? $0.0 : nil }
        }
        if record == nil {
            do {
                record = try await store.apiToken(hash: hash)
            } catch {
                throw AttestationRefusal(.internalError, "cannot read API tokens: \(error)")
            }
            if let record { apiTokens.withLockedValue { $0[hash] = (record, now.addingTimeInterval(5)) } }
        }
        guard let record, record.isUsable(at: now) else {
            throw AttestationRefusal(
                .unauthorized,
                "the API token is unknown, revoked or expired; see `posture-collector apitoken list`, or create one with `posture-collector apitoken create --scope \(scope)`"
            )
        }
        return record
    }

    func issueNonce(deviceID: String) async throws(AttestationRefusal) -> IssuedNonce {
        let nonce = NonceFactory.make(now: Date(), lifetime: configuration.attestations.nonceLifetime.duration)
        do {
            try await store.issueNonce(nonce, deviceID: deviceID)
        } catch {
            throw AttestationRefusal(.internalError, "could not store the nonce: \(error)")
        }
        return nonce
    }

    func renew(_ request: RenewalRequest, peer: PeerIdentity) async throws(AttestationRefusal) -> CertificateGrant {
        let key = try CertificateAuthority.devicePublicKey(fromCSR: request.csr)
        guard KeyThumbprint(key) == KeyThumbprint(peer.publicKey) else {
            throw AttestationRefusal(
                .keyMismatch, "renewal keeps the device key: the CSR's key differs from the certificate's")
        }
        let now = Date()
        do {
            // The renewed certificate says what enrollment proved of the key, which has not changed.
            let device = try await store.device(peer.identity.deviceID)
            let certificate = try ca.issueDeviceCertificate(
                deviceID: peer.identity.deviceID, publicKey: key, hostname: "",
                lifetime: configuration.certificates.deviceLifetime.duration, now: now,
                backdate: deviceCertificateBackdate, keyProtection: device?.keyProtection ?? .software,
                endorsementFingerprint: device?.tpm?.endorsementFingerprint)
            let pem = try certificate.serializeAsPEM().pemString
            try await store.insertCertificate(
                CertificateRecord(
                    serial: certificate.serialNumber.description, deviceID: peer.identity.deviceID,
                    notBefore: certificate.notValidBefore,
                    notAfter: certificate.notValidAfter, pem: pem))
            let nonce = try await issueNonce(deviceID: peer.identity.deviceID)
            return CertificateGrant(
                deviceID: peer.identity.deviceID, identity: peer.identity.uri, certificate: pem, caBundle: ca.pem,
                notAfter: certificate.notValidAfter, nonce: nonce, devicesURL: devicesURL(requestHost: nil),
                verdictKeys: keys.jwks())
        } catch let refusal as AttestationRefusal {
            throw refusal
        } catch {
            throw AttestationRefusal(.internalError, "renewal failed in the collector: \(error)")
        }
    }

    /// The `<id>` of a client certificate's `spiffe://<td>/api-client/<id>` URI SAN (the TLS handshake
    /// already checked that it chains to the CA and is current).
    static func apiClientID(of channel: any Channel, trustDomain: String) async -> String? {
        guard let peer = try? await channel.nioSSL_peerCertificate().get(),
            let certificate = try? Certificate(derEncoded: try peer.toDERBytes()),
            let names = try? certificate.extensions.subjectAlternativeNames
        else { return nil }
        let prefix = "spiffe://\(trustDomain)/api-client/"
        for case .uniformResourceIdentifier(let uri) in names where uri.hasPrefix(prefix) {
            return String(uri.dropFirst(prefix.count))
        }
        return nil
    }

    /// Logs a refusal as a security event and stores it; never stores the refused report.
    /// Gauges read at scrape time: build, credentials' expiry, the SSF outbox.
    func refreshMetrics(now: Date = Date()) async {
        metrics.buildInfo(version: postureVersion)
        let published = Dictionary(grouping: keys.schedule().published(at: now), by: \.alg).mapValues(\.count)
        metrics.credentials(
            caNotAfter: ca.certificate.notValidAfter,
            serverNotAfter: serverCertificateNotAfter.withLockedValue { $0 } ?? .distantPast, publishedKeys: published)
        if let backlog = try? await store.outboxBacklog() {
            metrics.outbox(pending: backlog.pending, oldest: backlog.oldest, now: now)
        }
    }

    /// A refusal: logged and recorded as a security event, at most once per source, code and minute (the
    /// rest are counted into the next one). A failure of the collector itself (`internal_error`) is not a
    /// security event: it is logged once per cause and minute, whatever device met it.
    func refused(_ error: any Error, deviceID: String?, peer: String?) async {
        let refusal = AttestationRefusal(error)
        if refusal.code == .internalError || refusal.code == .overloaded {
            let decision = eventThrottle.admit("collector \(refusal.code) \(refusal.message.prefix(200))")
            guard decision.record else { return }
            logger.error(
                "\(refusal.message)\(Self.more(decision.suppressed))",
                metadata: ["posture.code": "\(refusal.code)", "posture.device": "\(deviceID ?? "-")"])
            return
        }
        let decision = eventThrottle.admit(
            SecurityEventThrottle.key(code: refusal.code.rawValue, deviceID: deviceID, peer: peer))
        metrics.securityEvent(recorded: decision.record)
        guard decision.record else { return }
        let message = refusal.message + Self.more(decision.suppressed)
        logger.warning(
            "refused: \(message)",
            metadata: [
                "posture.code": "\(refusal.code)", "posture.device": "\(deviceID ?? "-")",
                "posture.peer": "\(peer ?? "-")",
            ])
        do {
            try await store.recordSecurityEvents([
                SecurityEvent(
                    at: Date(), deviceID: deviceID, code: refusal.code.rawValue, message: message, peer: peer)
            ])
        } catch {
            let failure = eventThrottle.admit("collector security-event write \(error)")
            if failure.record {
                logger.error("cannot record a security event, ignoring: \(error)\(Self.more(failure.suppressed))")
            }
        }
    }

    private static func more(_ suppressed: Int) -> String {
        suppressed == 0 ? "" : " (and \(suppressed) more like it from this source in the minute before)"
    }
}

/// What an agent gets for an accepted attestation: the receipt and its verdict at that moment.
/// The answer to an accepted attestation: the receipt's fields, and the device's verdict and its JWT as
/// served (`verdict`, `jwt`: what the agent verifies before it acts).
struct IngestResponse: Sendable {
    var receipt: AttestationReceipt
    var signed: SignedVerdict?

    /// One JSON object: the receipt's encoding with the signed verdict's, which is encoded once per
    /// evaluation, spliced in rather than encoded again per attestation. Both are this collector's own
    /// encodings of disjoint keys.
    var body: [UInt8] {
        var bytes = Array((try? PostureReport.wireEncoder().encode(receipt)) ?? Data("{}".utf8))
        guard let signed, signed.body.count > 2, bytes.last == UInt8(ascii: "}"), signed.body.first == UInt8(ascii: "{")
        else { return bytes }
        bytes.removeLast()
        bytes.append(UInt8(ascii: ","))
        bytes.append(contentsOf: signed.body.dropFirst())
        return bytes
    }
}

/// The `iss` of verdict JWTs and SETs and the base of the SSF endpoints: `verdicts.issuer`, or the API
/// listener's URL with the port it actually bound (listen.api may say port 0). One source for every use.
final class Issuer: Sendable {
    private let configured: String?
    private let host: String
    private let configuredPort: Int
    let boundPort = NIOLockedValueBox<Int?>(nil)

    init(_ configuration: CollectorConfiguration) {
        configured = configuration.verdicts.issuer
        host = configuration.tls.serverNames.first ?? "localhost"
        configuredPort = HostPort(configuration.listen.api)?.port ?? 8445
    }

    var value: String {
        configured ?? "https://\(host):\(boundPort.withLockedValue { $0 } ?? configuredPort)"
    }
}

/// A device's attestation key as looked up (nil: a software-key device).
struct KnownAttestationKey: @unchecked Sendable {
    // @unchecked: P256.Signing.PublicKey is an immutable BoringSSL key, only missing the annotation on Linux.
    var key: P256.Signing.PublicKey?
}
