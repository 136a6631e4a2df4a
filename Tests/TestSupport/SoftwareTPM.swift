import Foundation

/// A TPM 2.0 of its own for one test: Debian's swtpm in socket mode on a free loopback port, its state in a
/// temporary directory, manufactured by swtpm_setup (SHA-256 PCR bank; EK certificates for an RSA-2048 and
/// a P-384 endorsement key, issued by a local CA of its own, the "manufacturer"). swtpm serves one client at
/// a time: while an agent holds it, tpm2-tools wait.
public final class SoftwareTPM: @unchecked Sendable {
    public let directory: String
    public let port: Int
    private var process: BackgroundProcess?

    /// The manufacturer's CA: its root and the intermediate that signed the EK certificates (PEM files), for
    /// the collector's `tpm.endorsementRoots`.
    public var endorsementRoots: [String] {
        [directory + "/ca/swtpm-localca-rootca-cert.pem", directory + "/ca/issuercert.pem"]
    }

    /// The TCTI string for tpm2-tss (`postured enroll --tpm`, TPM2TOOLS_TCTI).
    public var tcti: String { "swtpm:host=127.0.0.1,port=\(port)" }

    public init(_ name: String) throws {
        directory = NSTemporaryDirectory() + "posture-swtpm-\(name)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory + "/state", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/ca", withIntermediateDirectories: true)
        // swtpm_localca's CA under this directory, not /var/lib/swtpm-localca (what /etc's files say).
        try """
        create_certs_tool = /usr/bin/swtpm_localca
        create_certs_tool_config = \(directory)/swtpm-localca.conf
        create_certs_tool_options = /etc/swtpm-localca.options
        active_pcr_banks = sha256

        """.write(toFile: directory + "/swtpm_setup.conf", atomically: true, encoding: .utf8)
        try """
        statedir = \(directory)/ca
        signingkey = \(directory)/ca/signkey.pem
        issuercert = \(directory)/ca/issuercert.pem
        certserial = \(directory)/ca/certserial

        """.write(toFile: directory + "/swtpm-localca.conf", atomically: true, encoding: .utf8)
        try Shell.run([
            "swtpm_setup", "--tpm2", "--tpm-state", directory + "/state", "--config", directory + "/swtpm_setup.conf",
            "--create-ek-cert", "--pcr-banks", "sha256", "--overwrite",
        ])
        port = try Self.start(directory: directory, into: &process)
    }

    private static func start(directory: String, into process: inout BackgroundProcess?) throws -> Int {
        for _ in 0..<5 {
            let port = try freeLoopbackPort()
            let started = try BackgroundProcess(
                [
                    "/usr/bin/swtpm", "socket", "--tpm2", "--tpmstate", "dir=\(directory)/state", "--server",
                    "type=tcp,port=\(port),bindaddr=127.0.0.1", "--ctrl",
                    "type=tcp,port=\(port + 1),bindaddr=127.0.0.1", "--flags", "not-need-init,startup-clear",
                ], logPath: directory + "/swtpm.log")
            let listening = BackgroundProcess.eventually(timeout: 10) {
                guard started.isRunning else { return true }
                return (try? Shell.run(["sh", "-c", "ss -Hltn 'sport = :\(port)' | grep -q LISTEN"])) != nil
            }
            if listening && started.isRunning {
                process = started
                return port
            }
            started.signal(SIGKILL)
        }
        throw SoftwareTPMError("swtpm did not start; see \(directory)/swtpm.log")
    }

    /// Runs a tpm2-tools command against this TPM (while no agent holds it).
    @discardableResult
    public func tool(_ arguments: [String]) throws -> String {
        try Shell.run(["env", "TPM2TOOLS_TCTI=\(tcti)"] + arguments).stdout
    }

    public func stop() {
        process?.signal(SIGTERM)
        _ = process?.wait(timeout: 10)
        process = nil
    }

    deinit {
        process?.signal(SIGKILL)
        try? FileManager.default.removeItem(atPath: directory)
    }
}

struct SoftwareTPMError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
