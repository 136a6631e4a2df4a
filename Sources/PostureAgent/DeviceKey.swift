import PostureAgentState
import PostureClient
import PostureLinux
import PostureModel
import PostureTPM
import X509

#if canImport(Glibc)
    import Glibc
#endif

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The key the device signs with: inside the TPM when enrollment put it there (`device.tpmkey`, a blob only
/// that TPM can load), else the software key file (`device.key`, 0600).
public struct DeviceKey: Sendable {
    public let signer: any ES256Signer
    public let protection: KeyProtection
    /// The TPM that holds the key (nil for a software key).
    public let tpm: TPM?

    /// Where enrollment puts the key: `auto` (the TPM at /dev/tpmrm0 if there is one), `off`, or a TCTI.
    public enum Placement: Sendable, Equatable {
        case auto
        case software
        case tpm(tcti: String)

        public init(_ text: String) {
            switch text {
            case "auto": self = .auto
            case "off", "software", "none": self = .software
            default: self = .tpm(tcti: text)
            }
        }
    }

    /// Creates the key for enrollment. A TPM named explicitly must work; `auto` falls back to a software key
    /// and says why in `notice`.
    static func create(state: AgentState, placement: Placement) throws -> (key: DeviceKey, notice: String?) {
        var notice: String?
        switch placement {
        case .software:
            break
        case .auto:
            guard FileManager.default.fileExists(atPath: "/dev/tpmrm0") else {
                return (try software(state), "no TPM (/dev/tpmrm0): the device key is a software key")
            }
            do {
                return (try inTPM(state, tcti: TPM.kernelResourceManager), nil)
            } catch {
                notice = "the TPM at /dev/tpmrm0 cannot hold the key (\(error)); the device key is a software key"
            }
        case .tpm(let tcti):
            do {
                return (try inTPM(state, tcti: tcti), nil)
            } catch {
                throw AgentError(
                    .tpm,
                    "\(error); check --tpm (a TCTI such as device:/dev/tpmrm0 or swtpm:host=127.0.0.1,port=2321), or pass --tpm auto"
                )
            }
        }
        return (try software(state), notice)
    }

    /// The software key file, reused when there is one. A TPM key of an earlier enrollment stays until
    /// `commit`: a refused re-enrollment leaves the device as it was.
    private static func software(_ state: AgentState) throws -> DeviceKey {
        DeviceKey(signer: try DeviceKeyFile.loadOrCreate(state.keyPath), protection: .software, tpm: nil)
    }

    /// A new key in the TPM, its blob written beside the one in force (`device.tpmkey.enrolling`) until
    /// `commit`.
    private static func inTPM(_ state: AgentState, tcti: String) throws -> DeviceKey {
        let tpm = try TPM(tcti: tcti)
        let blob = try tpm.createKey()
        let key = try TPMDeviceKey(tpm: tpm, blob: blob)
        try state.writeText(try blob.serializeAsPEM().pemString + "\n", pendingTPMKeyPath(state), mode: 0o600)
        return DeviceKey(signer: key, protection: .tpm, tpm: tpm)
    }

    private static func pendingTPMKeyPath(_ state: AgentState) -> String { state.tpmKeyPath + ".enrolling" }

    /// The collector issued a certificate for this key: it becomes the device key, and the key of the other
    /// kind, from an earlier enrollment, goes (a software key must not outlive the move into the TPM).
    func commit(_ state: AgentState) throws {
        if protection == .tpm {
            guard rename(Self.pendingTPMKeyPath(state), state.tpmKeyPath) == 0 else {
                throw AgentError(.stateDirectory, "cannot put \(state.tpmKeyPath) in place: errno \(errno)")
            }
            try? FileManager.default.removeItem(atPath: state.keyPath)
        } else {
            try? FileManager.default.removeItem(atPath: state.tpmKeyPath)
        }
    }

    /// Enrollment failed: the new TPM key's blob goes; the device keeps the key its certificate names.
    static func discard(_ state: AgentState) {
        try? FileManager.default.removeItem(atPath: pendingTPMKeyPath(state))
    }

    /// The enrolled key. `tcti` overrides where the TPM is (agent.yaml `tpm`); nil uses enrollment's.
    public static func load(state: AgentState, enrollment: AgentState.Enrollment, tcti: String?) throws -> DeviceKey {
        guard let pem = try state.readText(state.tpmKeyPath) else {
            return DeviceKey(signer: try DeviceKeyFile.loadOrCreate(state.keyPath), protection: .software, tpm: nil)
        }
        let blob: TPMKeyBlob
        do {
            blob = try TPMKeyBlob(pemEncoded: pem)
        } catch {
            throw AgentError(
                .stateDirectory, "\(state.tpmKeyPath) is not a TSS2 PRIVATE KEY (\(error)); enroll again with --force")
        }
        let location = tcti ?? enrollment.tpm ?? TPM.kernelResourceManager
        do {
            let tpm = try TPM(tcti: location)
            return DeviceKey(signer: try TPMDeviceKey(tpm: tpm, blob: blob), protection: .tpm, tpm: tpm)
        } catch {
            throw AgentError(
                .tpm,
                "the device key \(state.tpmKeyPath) lives in a TPM, and the TPM at \(location) cannot load it (\(error)); a copied state directory works only with the TPM that made it: enroll this machine with `postured enroll --force`"
            )
        }
    }

    /// The report's `tpm` fact: asked of the TPM when the key is in one, else whether the kernel has a TPM 2.0.
    func fact(root: HostRoot) -> Fact<TPMFacts> {
        if let tpm {
            let info = try? tpm.info()
            return .observed(
                TPMFacts(
                    present: true, manufacturer: info?.manufacturer, vendor: info?.vendor,
                    firmwareVersion: info?.firmwareVersion, deviceKey: .tpm),
                source: "TPM2_GetCapability (\(tpm.tcti))")
        }
        let path = "/sys/class/tpm/tpm0/tpm_version_major"
        let major = (try? root.readText(path))?.trimmingWhitespace()
        return .observed(TPMFacts(present: major == "2", deviceKey: protection), source: path)
    }

    /// A PKCS#10 request for the key, naming the host.
    func csr(hostname: String) throws -> String {
        let privateKey: Certificate.PrivateKey
        if let key = signer as? TPMDeviceKey {
            privateKey = Certificate.PrivateKey(TPMCertificateKey(key))
        } else if let key = signer as? SoftwareSigningKey {
            privateKey = Certificate.PrivateKey(key.privateKey)
        } else {
            throw AgentError(.stateDirectory, "the device key cannot sign a certificate request")
        }
        return try DeviceKeyFile.csr(privateKey: privateKey, hostname: hostname)
    }

    /// The device's side of the mutual-TLS handshake.
    func clientCertificate(_ certificatePEM: String) throws -> ClientCertificate {
        if let key = signer as? SoftwareSigningKey {
            return try ClientCertificate(certificatePEM: certificatePEM, keyPEM: key.privateKey.pemRepresentation)
        }
        return ClientCertificate(certificatePEM: certificatePEM, signer: signer)
    }
}
