import Foundation
import TestSupport
import Testing

/// The device key inside a TPM (swtpm, one per test): enrollment makes it there, the handshake and every
/// attestation are signed by it, and a copied state directory is useless anywhere else. tpm2-openssl
/// (OpenSSL's tpm2 provider) is the independent reader of the key blob.
@Suite(.serialized, Requirement.available(programs: ["swtpm", "swtpm_setup", "tpm2_getcap", "openssl"]))
struct TPMIdentityTests {
    /// A collector that believes the endorsement certificates of `manufacturer`'s TPMs, with a policy that
    /// wants device keys in a TPM.
    static func collector(_ label: String, trusting manufacturer: SoftwareTPM) throws -> CollectorHarness {
        let roots = manufacturer.endorsementRoots.map { "    - \($0)\n" }.joined()
        let policy = manufacturer.directory + "/policy.yaml"
        try """
        report: {maxAge: 1h}
        rules:
          - name: key-in-tpm
            check: keyProtection
            minimum: tpm

        """.write(toFile: policy, atomically: true, encoding: .utf8)
        return try CollectorHarness(
            label, configuration: "policy: {path: \(policy)}\ntpm:\n  endorsementRoots:\n" + roots)
    }

    /// The device's stored verdict (JSON), once the collector has stored one.
    static func verdict(_ collector: CollectorHarness, _ deviceID: String) throws -> String {
        var text = ""
        _ = BackgroundProcess.eventually(timeout: 15) {
            text = (try? collector.command(["devices", "verdict", deviceID])) ?? ""
            return text.contains("\"status\"")
        }
        return text
    }

    @Test func theDeviceKeyIsMadeInTheTPMAndSignsTheHandshakeAndTheAttestations() throws {
        let tpm = try SoftwareTPM("enroll")
        let collector = try Self.collector("e2e-tpm", trusting: tpm)
        let (state, deviceID) = try collector.enrollAgent("agent", options: ["--tpm", tpm.tcti])
        // Only a blob the TPM wrapped is on disk, 0600; no software key.
        #expect(!FileManager.default.fileExists(atPath: state + "/device.key"))
        let blob = try String(contentsOfFile: state + "/device.tpmkey", encoding: .utf8)
        #expect(blob.hasPrefix("-----BEGIN TSS2 PRIVATE KEY-----"))
        let attributes = try FileManager.default.attributesOfItem(atPath: state + "/device.tpmkey")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let enrollment = try String(contentsOfFile: state + "/enrollment.json", encoding: .utf8)
        #expect(enrollment.contains(tpm.port.description), "the TCTI is recorded: \(enrollment)")

        // The collector proved it (EK certificate, credential activation, Certify) and says so, in the device
        // record and in the certificate.
        let shown = try collector.command(["devices", "show", deviceID])
        #expect(shown.contains("\"keyProtection\" : \"tpm\""), "\(shown)")
        // tpm2-tools reads the EK certificate out of the TPM's NV: its SHA-256 is the fingerprint recorded.
        try tpm.tool(["tpm2_nvread", "0x01c00016", "-o", tpm.directory + "/ek.der"])
        let fingerprint = try Shell.run(["sha256sum", tpm.directory + "/ek.der"]).stdout.prefix(64)
        #expect(shown.contains("\"endorsementFingerprint\" : \"\(fingerprint)\""), "\(shown)")
        let text = try Shell.run(["openssl", "x509", "-in", state + "/device.crt", "-noout", "-text"]).stdout
        #expect(text.contains("tpm ek-sha256=\(fingerprint)"), "\(text)")

        // Mutual TLS and the JWS are signed in the TPM: the collector accepts the agent's reports.
        try Shell.run([
            CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "200ms", "--count", "2",
        ])
        #expect(try collector.attestations(deviceID).map(\.sequence) == [1, 2])
        // The report says what the TPM says of itself (swtpm: manufacturer IBM) and where the key lives.
        let reported = try collector.command(["devices", "show", deviceID])
        #expect(reported.contains("IBM") && reported.contains("deviceKey"), "\(reported)")
        // The policy's `keyProtection: {minimum: tpm}` passes on what enrollment proved.
        let verdict = try Self.verdict(collector, deviceID)
        #expect(verdict.contains("\"status\":\"compliant\"") && !verdict.contains("key-in-tpm"), "\(verdict)")

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

        // A re-enrollment the collector refuses (an unknown token) leaves the device as it was: the key its
        // certificate names is still there, and it still attests.
        let refused = try Shell.runAllowingFailure([
            CollectorHarness.agentBinary, "enroll", "--force", "--collector", collector.enrollmentURL, "--token",
            "no-such-token", "--ca-fingerprint", try collector.fingerprint(), "--state-dir", state, "--root",
            try collector.makeAgentDirectories("again").root, "--tpm", tpm.tcti,
        ])
        #expect(refused.status != 0 && refused.stderr.contains("token"), "\(refused.stderr)")
        #expect(try String(contentsOfFile: state + "/device.tpmkey", encoding: .utf8) == blob)
        #expect(!FileManager.default.fileExists(atPath: state + "/device.tpmkey.enrolling"))
        try Shell.run([
            CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "200ms", "--count", "1",
        ])
        #expect(try collector.attestations(deviceID).map(\.sequence) == [1, 2, 3])
    }

    @Test func aCopiedStateDirectoryIsUselessWithAnotherTPM() throws {
        let original = try SoftwareTPM("original")
        let other = try SoftwareTPM("other")
        let collector = try Self.collector("e2e-tpm-copy", trusting: original)
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

    /// The TCG's default ECC endorsement key (template L-2, P-256, what PC TPMs ship), certified at NV
    /// 0x01c0000a by a CA of this test's: the path real machines take, where the EK authorizes
    /// ActivateCredential only through a PolicySecret session.
    @Test func aTPMWithTheDefaultP256EndorsementKeyEnrolls() throws {
        let tpm = try SoftwareTPM("l2")
        let ca = tpm.directory + "/maker"
        try Shell.run([
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
            ca + ".key", "-out", ca + ".pem", "-subj", "/CN=L-2 maker", "-days", "30",
        ])
        try tpm.tool([
            "tpm2_createek", "-G", "ecc", "-u", tpm.directory + "/ek.pem", "-f", "pem", "-c", tpm.directory + "/ek.ctx",
        ])
        try tpm.tool(["tpm2_flushcontext", "-t"])
        try Shell.run([
            "openssl", "x509", "-new", "-force_pubkey", tpm.directory + "/ek.pem", "-CA", ca + ".pem", "-CAkey",
            ca + ".key", "-subj", "/CN=ek", "-days", "30", "-outform", "DER", "-out", tpm.directory + "/ek.der",
        ])
        let size = try FileManager.default.attributesOfItem(atPath: tpm.directory + "/ek.der")[.size] as? Int ?? 0
        try tpm.tool([
            "tpm2_nvdefine", "0x01c0000a", "-C", "p", "-s", "\(size)", "-a",
            "ppwrite|ppread|ownerread|authread|no_da|platformcreate",
        ])
        try tpm.tool(["tpm2_nvwrite", "0x01c0000a", "-C", "p", "-i", tpm.directory + "/ek.der"])
        let policy = tpm.directory + "/policy.yaml"
        try "report: {maxAge: 1h}\nrules: []\n".write(toFile: policy, atomically: true, encoding: .utf8)
        let collector = try CollectorHarness(
            "e2e-tpm-l2", configuration: "policy: {path: \(policy)}\ntpm:\n  endorsementRoots: [\(ca).pem]\n")
        let (_, deviceID) = try collector.enrollAgent("agent", options: ["--tpm", tpm.tcti])
        let fingerprint = try Shell.run(["sha256sum", tpm.directory + "/ek.der"]).stdout.prefix(64)
        let shown = try collector.command(["devices", "show", deviceID])
        #expect(shown.contains("\"keyProtection\" : \"tpm\""), "\(shown)")
        #expect(shown.contains("\"endorsementFingerprint\" : \"\(fingerprint)\""), "the P-256 EK's: \(shown)")
    }

    @Test func aTPMFromAnUntrustedManufacturerIsRefusedAtEnrollment() throws {
        let tpm = try SoftwareTPM("unknown-maker")
        let trusted = try SoftwareTPM("trusted-maker")
        let collector = try Self.collector("e2e-tpm-untrusted", trusting: trusted)
        let (state, root) = try collector.makeAgentDirectories("agent")
        let output = try Shell.runAllowingFailure([
            CollectorHarness.agentBinary, "enroll", "--collector", collector.enrollmentURL, "--token",
            try collector.token(), "--ca-fingerprint", try collector.fingerprint(), "--state-dir", state, "--root",
            root, "--tpm", tpm.tcti,
        ])
        #expect(output.status != 0)
        #expect(output.stderr.contains("does not chain to a root in tpm.endorsementRoots"), "\(output.stderr)")
        #expect(output.stderr.contains("tpm.endorsementRoots"), "the fix is named: \(output.stderr)")
        #expect(!FileManager.default.fileExists(atPath: state + "/device.crt"))
    }

    @Test func withoutATPMTheDeviceKeyIsASoftwareKey() throws {
        let manufacturer = try SoftwareTPM("maker")
        let collector = try Self.collector("e2e-tpm-off", trusting: manufacturer)
        let (state, deviceID) = try collector.enrollAgent("agent", options: ["--tpm", "off"])
        #expect(FileManager.default.fileExists(atPath: state + "/device.key"))
        #expect(!FileManager.default.fileExists(atPath: state + "/device.tpmkey"))
        let text = try Shell.run(["openssl", "x509", "-in", state + "/device.crt", "-noout", "-text"]).stdout
        #expect(text.contains("software") && !text.contains("ek-sha256"), "\(text)")
        #expect(try collector.command(["devices", "show", deviceID]).contains("\"keyProtection\" : \"software\""))
        // It reports like any device, and fails the policy's keyProtection rule, saying why.
        try Shell.run([
            CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "200ms", "--count", "1",
        ])
        let verdict = try Self.verdict(collector, deviceID)
        #expect(verdict.contains("\"status\":\"noncompliant\"") && verdict.contains("key-in-tpm"), "\(verdict)")
        #expect(verdict.contains("not proven to be in a TPM"), "\(verdict)")

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
