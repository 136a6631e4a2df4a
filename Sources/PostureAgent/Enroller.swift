import PostureClient
import PostureLinux
import PostureModel
import PostureTPM
import X509

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `postured enroll`: pin the collector's CA, create the device key, send a CSR with the machine-id,
/// store certificate, CA and the first nonce.
public struct Enroller: Sendable {
    public enum CATrust: Sendable {
        /// A CA certificate file the operator copied to the device.
        case file(String)
        /// `sha256:<hex>` of the CA's public key: fetched from the collector and checked on first contact.
        case fingerprint(CAFingerprint)
    }

    public var state: AgentState
    public var collectorURL: String
    public var token: String
    public var trust: CATrust
    public var root: HostRoot
    public var force: Bool
    /// Where the device key is made: the TPM at /dev/tpmrm0 when there is one, by default.
    public var placement: DeviceKey.Placement = .auto
    /// Told why the key is not where `placement` hoped (`auto` on a machine whose TPM cannot hold it).
    public var notice: @Sendable (String) -> Void = { _ in }

    public init(
        state: AgentState, collectorURL: String, token: String, trust: CATrust, root: HostRoot = HostRoot(), force: Bool
    ) {
        self.state = state
        self.collectorURL = collectorURL
        self.token = token
        self.trust = trust
        self.root = root
        self.force = force
    }

    public func enroll() async throws -> AgentState.Enrollment {
        if let existing = try state.enrollment(), !force {
            throw AgentError(
                .alreadyEnrolled,
                "already enrolled as \(existing.identity) with \(existing.collectorURL); pass --force to enroll again (the collector must allow it: a token created with --allow-reenroll, or the old device revoked)"
            )
        }
        try state.prepare()
        let caPEM = try await trustedCA()
        let (key, keyNotice) = try DeviceKey.create(state: state, placement: placement)
        if let keyNotice { notice(keyNotice) }
        do {
            let grant = try await certificateGrant(for: key, caPEM: caPEM)
            try key.commit(state)
            return try save(grant, key: key, caPEM: caPEM)
        } catch {
            DeviceKey.discard(state)
            throw error
        }
    }

    /// Asks the collector for a certificate for `key`, proving first that a TPM key is in its TPM.
    private func certificateGrant(for key: DeviceKey, caPEM: String) async throws -> CertificateGrant {
        let machineID: String
        do {
            machineID = try root.readText("/etc/machine-id").trimmingWhitespace()
        } catch {
            throw AgentError(.stateDirectory, "cannot read /etc/machine-id (\(error)); run systemd-machine-id-setup")
        }
        let hostname = currentHostname()
        var request = EnrollmentRequest(
            token: token, csr: try key.csr(hostname: hostname), machineID: machineID,
            hostname: hostname)
        let (placement, notice, token) = (self.placement, self.notice, self.token)
        let answer = try await CollectorClient.using(baseURL: collectorURL, caPEM: caPEM) { client in
            // A key in a TPM is proven to be there before the certificate is asked for.
            if let tpmKey = key.signer as? TPMDeviceKey {
                switch try await TPMEnroller(key: tpmKey, token: token).prove(with: client) {
                case .evidence(let evidence):
                    request.tpm = evidence
                case .unproven(let why):
                    guard placement == .auto else {
                        throw AgentError(
                            .tpm,
                            "\(why); the collector needs the TPM maker's EK CA in tpm.endorsementRoots, or enroll with --tpm auto (recorded as keyProtection: software) or --tpm off"
                        )
                    }
                    notice("\(why): the key stays in the TPM, but the collector records keyProtection: software")
                }
            }
            return await client.postJSON("/v1/enroll", request, answer: CertificateGrant.self)
        }
        switch answer {
        case .accepted(let grant): return grant
        case .refused(let error, _):
            throw AgentError(.refused, "the collector refused enrollment: \(error.error): \(error.message)")
        case .unavailable(let reason), .busy(let reason, _):
            throw AgentError(.collectorUnreachable, "cannot enroll with \(collectorURL): \(reason)")
        }
    }

    private func save(_ grant: CertificateGrant, key: DeviceKey, caPEM: String) throws -> AgentState.Enrollment {
        try state.writeText(grant.certificate, state.certificatePath)
        try state.writeText(caPEM, state.caPath)
        if let keys = grant.verdictKeys { try state.writeText(keys, state.verdictKeysPath) }
        try state.save(grant.nonce)
        try state.saveSequence(0)
        let enrollment = AgentState.Enrollment(
            deviceID: grant.deviceID, identity: grant.identity, collectorURL: collectorURL,
            devicesURL: grant.devicesURL, devicesURLs: grant.devicesURLs,
            enrolledAt: Date(), tpm: key.tpm?.tcti)
        try state.save(enrollment)
        return enrollment
    }

    /// The CA to trust from now on: the operator's file, or the collector's own once it matches the pin.
    private func trustedCA() async throws -> String {
        switch trust {
        case .file(let path):
            guard let text = try? String(contentsOfFile: path, encoding: .utf8),
                (try? Certificate(pemEncoded: text)) != nil
            else {
                throw AgentError(.usage, "--ca \(path) is not a readable PEM certificate")
            }
            return text
        case .fingerprint(let pin):
            let answer = try await CollectorClient.using(baseURL: collectorURL, trust: .unverifiedForPinning) {
                client in
                await client.get("/v1/ca")
            }
            switch answer {
            case .accepted(let bytes):
                let pem = String(decoding: bytes, as: UTF8.self)
                guard let certificate = try? Certificate(pemEncoded: pem) else {
                    throw AgentError(.caPinMismatch, "\(collectorURL)/v1/ca did not return a PEM certificate")
                }
                let actual = try CAFingerprint(certificate)
                guard actual == pin else {
                    throw AgentError(
                        .caPinMismatch,
                        "the collector's CA is \(actual), not the pinned \(pin): not enrolling (a different collector, or someone in between)"
                    )
                }
                return pem
            case .refused(let error, let status):
                throw AgentError(.collectorUnreachable, "\(collectorURL)/v1/ca answered \(status) \(error.error)")
            case .unavailable(let reason), .busy(let reason, _):
                throw AgentError(.collectorUnreachable, "cannot reach \(collectorURL) to fetch its CA: \(reason)")
            }
        }
    }
}
