import Foundation
import TestSupport
import Testing

/// The device key inside a TPM (swtpm, one per test): enrollment makes it there, the handshake and every
/// attestation are signed by it, and a copied state directory is useless anywhere else. tpm2-openssl
/// (OpenSSL's tpm2 provider) is the independent reader of the key blob.
@Suite(.serialized, Requirement.available(programs: ["swtpm", "swtpm_setup", "tpm2_getcap", "openssl"]))
struct TPMIdentityTests {
    @Test func theDeviceKeyIsMadeInTheTPMAndSignsTheHandshakeAndTheAttestations() throws {
        let tpm = try SoftwareTPM("enroll")
        let collector = try CollectorHarness("e2e-tpm")
        let (state, deviceID) = try collector.enrollAgent("agent", options: ["--tpm", tpm.tcti])
        // Only a blob the TPM wrapped is on disk, 0600; no software key.
        #expect(!FileManager.default.fileExists(atPath: state + "/device.key"))
        let blob = try String(contentsOfFile: state + "/device.tpmkey", encoding: .utf8)
        #expect(blob.hasPrefix("-----BEGIN TSS2 PRIVATE KEY-----"))
        let attributes = try FileManager.default.attributesOfItem(atPath: state + "/device.tpmkey")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let enrollment = try String(contentsOfFile: state + "/enrollment.json", encoding: .utf8)
        #expect(enrollment.contains(tpm.port.description), "the TCTI is recorded: \(enrollment)")

        // Mutual TLS and the JWS are signed in the TPM: the collector accepts the agent's reports.
        try Shell.run([
            CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "200ms", "--count", "2",
        ])
        #expect(try collector.attestations(deviceID).map(\.sequence) == [1, 2])

        // OpenSSL's tpm2 provider loads the same blob from the same TPM: its public key is the certificate's.
        let fromTPM = try Shell.run(
            [
                "openssl", "pkey", "-provider", "tpm2", "-provider", "default", "-in", state + "/device.tpmkey",
                "-pubout",
            ], environment: ["TPM2OPENSSL_TCTI": tpm.tcti, "PATH": "/usr/bin:/bin"]
        ).stdout
        let fromCertificate = try Shell.run([
            "sh", "-c", "openssl x509 -in '\(state)/device.crt' -noout -pubkey",
        ]).stdout
        #expect(fromTPM == fromCertificate && fromTPM.contains("BEGIN PUBLIC KEY"))
    }

    @Test func aCopiedStateDirectoryIsUselessWithAnotherTPM() throws {
        let original = try SoftwareTPM("original")
        let other = try SoftwareTPM("other")
        let collector = try CollectorHarness("e2e-tpm-copy")
        let (state, deviceID) = try collector.enrollAgent("agent", options: ["--tpm", original.tcti])
        let copy = state + "-copy"
        try Shell.run(["cp", "-a", state, copy])

        // The copy, pointed at another TPM: the key does not load, so nothing is signed or sent.
        let stolen = try Shell.runAllowingFailure([
            CollectorHarness.agentBinary, "run", "--state-dir", copy, "--tpm", other.tcti, "--interval", "200ms",
            "--count", "1",
        ])
        #expect(stolen.status != 0)
        #expect(stolen.stderr.contains("cannot load it"), "\(stolen.stderr)")
        #expect(stolen.stderr.contains("postured enroll --force"), "the fix is named: \(stolen.stderr)")
        #expect(try collector.attestations(deviceID).isEmpty)

        // Nor does any other TLS client get in with what was copied: there is no private key to present.
        let curl = try Shell.runAllowingFailure([
            "curl", "-sS", "--cacert", copy + "/ca.crt", "--cert", copy + "/device.crt", "--key",
            copy + "/device.tpmkey", collector.devicesURL + "/v1/nonce",
        ])
        #expect(curl.status != 0, "\(curl.stdout)")

        // The original, with its own TPM, still works.
        try Shell.run([
            CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "200ms", "--count", "1",
        ])
        #expect(try collector.attestations(deviceID).map(\.sequence) == [1])
    }

    @Test func withoutATPMTheDeviceKeyIsASoftwareKey() throws {
        let collector = try CollectorHarness("e2e-tpm-off")
        let (state, _) = try collector.enrollAgent("agent", options: ["--tpm", "off"])
        #expect(FileManager.default.fileExists(atPath: state + "/device.key"))
        #expect(!FileManager.default.fileExists(atPath: state + "/device.tpmkey"))

        // A TPM named explicitly that is not there is an error that names the option, not a silent fallback.
        let (other, root) = try collector.makeAgentDirectories("absent")
        let output = try Shell.runAllowingFailure([
            CollectorHarness.agentBinary, "enroll", "--collector", collector.enrollmentURL, "--token",
            try collector.token(), "--ca-fingerprint", try collector.fingerprint(), "--state-dir", other, "--root",
            root, "--tpm", "swtpm:host=127.0.0.1,port=\(try freeLoopbackPort())",
        ])
        #expect(output.status != 0)
        #expect(output.stderr.contains("--tpm"), "\(output.stderr)")
        #expect(!FileManager.default.fileExists(atPath: other + "/device.crt"))
    }
}
