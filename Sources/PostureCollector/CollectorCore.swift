import Crypto
import Logging
import NIOConcurrencyHelpers
import PostureModel
import PostureStore
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

    init(configuration: CollectorConfiguration, ca: CertificateAuthority, store: any PostureStore, logger: Logger) {
        self.configuration = configuration
        self.ca = ca
        self.store = store
        self.logger = logger
        peers = PeerIdentities(trustDomain: configuration.trustDomain)
        verifier = AttestationVerifier(
            maxBodyBytes: configuration.attestations.maxBodyBytes, skew: configuration.attestations.skew.duration)
        committer = AttestationCommitter(
            store: store, policy: FreshnessPolicy(skew: configuration.attestations.skew.duration))
    }

    /// The device API's URL for an agent that reached the enrollment listener as `host`.
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
        let machineID = request.machineID.trimmingCharacters(in: .whitespacesAndNewlines)
        guard machineID.count == 32, machineID.allSatisfy(\.isHexDigit) else {
            throw AttestationRefusal(.malformedRequest, "machineID must be the 32 hex digits of /etc/machine-id")
        }
        let key = try CertificateAuthority.devicePublicKey(fromCSR: request.csr)
        let now = Date()
        let deviceID = UUID().uuidString.lowercased()
        let hostname = String(request.hostname.prefix(253))
        do {
            let certificate = try ca.issueDeviceCertificate(
                deviceID: deviceID, publicKey: key, hostname: hostname,
                lifetime: configuration.certificates.deviceLifetime.duration, now: now)
            let pem = try certificate.serializeAsPEM().pemString
            let nonce = NonceFactory.make(now: now, lifetime: configuration.attestations.nonceLifetime.duration)
            let device = DeviceRecord(
                id: deviceID, machineID: machineID.lowercased(), hostname: hostname, labels: [:], status: .active,
                enrolledAt: now, keyThumbprint: KeyThumbprint(key).value)
            try await store.enroll(
                Enrollment(
                    tokenHash: EnrollmentTokens.hash(request.token), device: device,
                    certificate: CertificateRecord(
                        serial: certificate.serialNumber.description, deviceID: deviceID, notBefore: now,
                        notAfter: certificate.notValidAfter, pem: pem),
                    nonce: nonce),
                now: now)
            logger.notice(
                "device enrolled",
                metadata: [
                    "posture.device": "\(deviceID)", "posture.machine_id": "\(machineID)",
                    "posture.hostname": "\(hostname)",
                ])
            return CertificateGrant(
                deviceID: deviceID, identity: DeviceIdentity(trustDomain: ca.trustDomain, deviceID: deviceID).uri,
                certificate: pem, caBundle: ca.pem, notAfter: certificate.notValidAfter, nonce: nonce,
                devicesURL: devicesURL(requestHost: requestHost))
        } catch let refusal as AttestationRefusal {
            throw refusal
        } catch {
            throw AttestationRefusal(.internalError, "enrollment failed in the collector: \(error)")
        }
    }

    func ingest(body: [UInt8], peer: PeerIdentity) async throws(AttestationRefusal) -> AttestationReceipt {
        let now = Date()
        let (envelope, payload) = try verifier.verify(body: body, peer: peer, now: now)
        let pending = PendingAttestation(
            envelope: envelope, jws: String(decoding: body, as: UTF8.self), payload: payload, receivedAt: now,
            nextNonce: NonceFactory.make(now: now, lifetime: configuration.attestations.nonceLifetime.duration))
        return try await committer.submit(pending).get()
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
            let certificate = try ca.issueDeviceCertificate(
                deviceID: peer.identity.deviceID, publicKey: key, hostname: "",
                lifetime: configuration.certificates.deviceLifetime.duration, now: now)
            let pem = try certificate.serializeAsPEM().pemString
            try await store.insertCertificate(
                CertificateRecord(
                    serial: certificate.serialNumber.description, deviceID: peer.identity.deviceID, notBefore: now,
                    notAfter: certificate.notValidAfter, pem: pem))
            let nonce = try await issueNonce(deviceID: peer.identity.deviceID)
            return CertificateGrant(
                deviceID: peer.identity.deviceID, identity: peer.identity.uri, certificate: pem, caBundle: ca.pem,
                notAfter: certificate.notValidAfter, nonce: nonce, devicesURL: devicesURL(requestHost: nil))
        } catch let refusal as AttestationRefusal {
            throw refusal
        } catch {
            throw AttestationRefusal(.internalError, "renewal failed in the collector: \(error)")
        }
    }

    /// Logs a refusal as a security event and stores it; never stores the refused report.
    func refused(_ error: any Error, deviceID: String?, peer: String?) async {
        let refusal = AttestationRefusal(error)
        logger.warning(
            "refused: \(refusal.message)",
            metadata: [
                "posture.code": "\(refusal.code)", "posture.device": "\(deviceID ?? "-")",
                "posture.peer": "\(peer ?? "-")",
            ])
        try? await store.recordSecurityEvents([
            SecurityEvent(
                at: Date(), deviceID: deviceID, code: refusal.code.rawValue, message: refusal.message, peer: peer)
        ])
    }
}
