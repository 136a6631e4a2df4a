import ArgumentParser
import PostureAgent
import PostureLinux
import PostureModel

struct Enroll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enroll this device with a collector: create the device key, get a certificate.",
        discussion: """
            Trust the collector with --ca FILE (its CA certificate, copied out of band) or with \
            --ca-fingerprint sha256:HEX (printed by `posture-collector ca fingerprint`): the CA is fetched \
            and must match the pin, as kubeadm's discovery hash works. The device key is P-256. With a \
            TPM 2.0 (--tpm auto, the default, uses /dev/tpmrm0 when it exists) it is made inside the TPM and \
            cannot leave it: the state directory holds only device.tpmkey, a blob no other TPM can load. \
            Without one it is a software key, device.key (mode 0600), and the reports say so.
            """)

    @Option(help: ArgumentHelp("The collector's enrollment URL.", valueName: "url")) var collector: String
    @Option(help: ArgumentHelp("Enrollment token from `posture-collector token create`.", valueName: "token"))
    var token: String
    @Option(help: ArgumentHelp("The collector's CA certificate (PEM).", valueName: "file")) var ca: String?
    @Option(help: ArgumentHelp("Pin of the collector's CA public key.", valueName: "sha256:hex")) var caFingerprint:
        String?
    @Option(help: ArgumentHelp("State directory.", valueName: "dir")) var stateDir: String = AgentState.defaultDirectory
    @Flag(help: "Enroll again although this state directory is enrolled.") var force = false
    @Option(
        help: ArgumentHelp(
            "Where the device key is made: auto (the TPM at /dev/tpmrm0, else software), off, or a TCTI such as device:/dev/tpmrm0 or swtpm:host=127.0.0.1,port=2321.",
            valueName: "auto|off|tcti"))
    var tpm: String = "auto"
    @Option(help: ArgumentHelp("Read /etc/machine-id below this directory (a test tree).", valueName: "dir"))
    var root: String = "/"

    func validate() throws {
        guard (ca == nil) != (caFingerprint == nil) else {
            throw ValidationError("give exactly one of --ca FILE and --ca-fingerprint sha256:HEX")
        }
        if let caFingerprint, CAFingerprint(parsing: caFingerprint) == nil {
            throw ValidationError("--ca-fingerprint must be sha256: followed by 64 hex digits")
        }
        guard collector.hasPrefix("https://") else {
            throw ValidationError("--collector must be an https:// URL (there is no plaintext listener)")
        }
    }

    func run() async throws {
        let trust: Enroller.CATrust
        if let ca {
            trust = .file(ca)
        } else if let pin = caFingerprint.flatMap(CAFingerprint.init(parsing:)) {
            trust = .fingerprint(pin)
        } else {
            throw ValidationError("give --ca or --ca-fingerprint")
        }
        var enroller = Enroller(
            state: AgentState(directory: stateDir), collectorURL: collector, token: token, trust: trust,
            root: HostRoot(root), force: force)
        enroller.placement = DeviceKey.Placement(tpm)
        enroller.notice = { print("note: \($0)") }
        let enrollment = try await enroller.enroll()
        print("enrolled \(enrollment.identity)")
        print("device \(enrollment.deviceID)")
        print("attestations go to \(enrollment.devicesURL)")
        // Not "device …": scripts take the line starting "device " as the ID.
        print("key \(enrollment.tpm.map { "in the TPM at \($0)" } ?? "in software: \(stateDir)/device.key")")
    }
}
