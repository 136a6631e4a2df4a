import Crypto
import Foundation
import PostureModel
import TestSupport
import Testing

/// The device key inside a TPM (swtpm, one per test): enrollment makes it there, the handshake and every
/// attestation are signed by it, and a copied state directory is useless anywhere else. tpm2-openssl
/// (OpenSSL's tpm2 provider) is the independent reader of the key blob.
@Suite(.serialized, Requirement.available(programs: ["swtpm", "swtpm_setup", "tpm2_getcap", "openssl"]))
struct TPMIdentityTests {
    /// A collector that believes the endorsement certificates of `manufacturer`'s TPMs, with a policy of
    /// `rules` (by default: device keys in a TPM).
    static func collector(
        _ label: String, trusting manufacturer: SoftwareTPM,
        rules: String = "  - name: key-in-tpm\n    check: keyProtection\n    minimum: tpm\n"
    ) throws -> CollectorHarness {
        let roots = manufacturer.endorsementRoots.map { "    - \($0)\n" }.joined()
        let policy = manufacturer.directory + "/policy-\(label).yaml"
        try "report: {maxAge: 1h}\nrules:\n\(rules)".write(toFile: policy, atomically: true, encoding: .utf8)
        return try CollectorHarness(
            label, configuration: "policy: {path: \(policy)}\ntpm:\n  endorsementRoots:\n" + roots)
    }

    /// The device's stored verdict and changes, once they contain `text` (or after 15 s).
    static func verdict(_ collector: CollectorHarness, _ deviceID: String, containing text: String = "\"status\"")
        throws -> String
    {
        var verdict = ""
        _ = BackgroundProcess.eventually(timeout: 15) {
            verdict = (try? collector.command(["devices", "verdict", deviceID])) ?? ""
            return verdict.contains(text)
        }
        return verdict
    }

    /// A device whose swtpm holds `log`'s digests in its PCRs (the test plays firmware: swtpm has none),
    /// enrolled with its key in that TPM at a collector with `rules`; its agent reads the log from a file
    /// (agent.yaml `tpmEventLog`).
    struct BootedDevice {
        let tpm: SoftwareTPM
        let collector: CollectorHarness
        let state: String
        let deviceID: String
        let logPath: String
        let agentConfiguration: String

        init(_ label: String, log: BootEventLog, rules: String) throws {
            tpm = try SoftwareTPM(label)
            try tpm.extend(log.events)
            logPath = tpm.directory + "/binary_bios_measurements"
            try log.write(to: logPath)
            agentConfiguration = tpm.directory + "/agent.yaml"
            try "tpmEventLog: \(logPath)\n".write(toFile: agentConfiguration, atomically: true, encoding: .utf8)
            collector = try TPMIdentityTests.collector("e2e-tpm-\(label)", trusting: tpm, rules: rules)
            (state, deviceID) = try collector.enrollAgent("agent", options: ["--tpm", tpm.tcti])
        }

        /// One report from the agent.
        func report() throws {
            try Shell.run([
                CollectorHarness.agentBinary, "run", "--state-dir", state, "--config", agentConfiguration,
                "--interval", "200ms", "--count", "1",
            ])
        }

        func verdict(containing text: String) throws -> String {
            try TPMIdentityTests.verdict(collector, deviceID, containing: text)
        }
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

    /// Every report carries a quote of PCR 0-9 over the collector's nonce and the report, and the boot
    /// event log beside it. swtpm has no firmware, so the test plays firmware: it extends the PCRs with the
    /// digests of a UEFI log it wrote (Secure Boot on), and the agent sends that log.
    @Test func everyReportQuotesTheBootAndAChangeIsNamedUntilAnOperatorAcceptsIt() throws {
        var log = BootEventLog.uefi(secureBoot: true)
        let booted = try BootedDevice(
            "boot", log: log,
            rules: "  - {name: boot-as-recorded, check: measuredBoot}\n  - {name: secure-boot, check: secureBoot}\n")
        let (tpm, collector, deviceID) = (booted.tpm, booted.collector, booted.deviceID)
        // Enrollment quoted the boot: that is the baseline, PCR 8 (the kernel command line) among it.
        let pcr8 = try tpm.tool(["tpm2_pcrread", "sha256:8"])
        let enrolled = try collector.command(["devices", "show", deviceID])
        #expect(enrolled.contains("bootBaseline"), "\(enrolled)")
        let pcr8Hex = try #require(pcr8.split(separator: "0x").last).prefix(64).lowercased()
        #expect(enrolled.contains(pcr8Hex), "tpm2_pcrread's PCR 8 \(pcr8Hex) is in the baseline: \(enrolled)")

        try booted.report()
        var verdict = try booted.verdict(containing: "\"status\":\"compliant\"")
        #expect(verdict.contains("\"status\":\"compliant\""), "quote verified, log replayed: \(verdict)")
        // A third party re-verifies the stored quote with the device record alone: the envelope (signed by the
        // device key) holds it, the report part the PCR values; OpenSSL checks the attestation key's signature.
        let stored = try #require(try collector.attestations(deviceID).last)
        let envelopeBytes = try #require(Base64URL.decode(stored.jws.split(separator: ".")[1]))
        let envelope = try JSONDecoder().decode(DetachedAttestation.Envelope.self, from: envelopeBytes)
        let quote = try #require(envelope.quote)
        let record = try #require(
            try JSONSerialization.jsonObject(with: Data(enrolled.utf8)) as? [String: Any])
        let device = try #require(record["device"] as? [String: Any])
        let akBase64 = try #require((device["tpm"] as? [String: Any])?["attestationKey"] as? String)
        let ak = try TPMPublicArea(tpm2bPublic: Array(try #require(Data(base64Encoded: akBase64))))
        let akKey = try #require(ak.publicKey)
        let attest = Array(try #require(Base64URL.decode(quote.attest)))
        let signature = Array(try #require(Base64URL.decode(quote.sig)))
        let part = try #require(stored.reportPart)
        let report = try PostureReport.wireDecoder().decode(DetachedAttestation.ReportPart.self, from: Data(part.utf8))
        let pcrs = try #require(report.tpm?.value?.pcrs)
        #expect(
            MeasuredBoot.checkQuote(
                attest: attest, signature: signature, attestationKey: akKey,
                qualifyingData: DetachedAttestation.quoteQualifyingData(
                    nonce: envelope.nonce, sequence: envelope.seq, report: envelope.report, journal: envelope.journal),
                pcrs: pcrs) == nil)
        try akKey.pemRepresentation.write(toFile: tpm.directory + "/ak.pem", atomically: true, encoding: .utf8)
        try Data(attest).write(to: URL(fileURLWithPath: tpm.directory + "/quote.msg"))
        try P256.Signing.ECDSASignature(rawRepresentation: signature).derRepresentation.write(
            to: URL(fileURLWithPath: tpm.directory + "/quote.sig"))
        let checked = try Shell.run([
            "openssl", "dgst", "-sha256", "-verify", tpm.directory + "/ak.pem", "-signature",
            tpm.directory + "/quote.sig", tpm.directory + "/quote.msg",
        ]).stdout
        #expect(checked.contains("Verified OK"), "\(checked)")

        // A kernel update: the boot loader measures a new kernel into PCR 9, and the log says so.
        let kernel = BootEventLog.Event(pcr: 9, type: 0xd, data: Array("vmlinuz-6.12.9".utf8))
        log.events.append(kernel)
        try tpm.extend([kernel])
        try log.write(to: booted.logPath)
        try booted.report()
        verdict = try booted.verdict(containing: "boot-as-recorded")
        #expect(verdict.contains("\"status\":\"noncompliant\""), "\(verdict)")
        #expect(verdict.contains("PCR 9 changed since the recorded baseline"), "the PCR is named: \(verdict)")
        #expect(!verdict.contains("secure-boot"), "Secure Boot still measured on: \(verdict)")

        // An operator accepts the new boot (audited with the values), and the device is compliant again.
        let accepted = try collector.command([
            "devices", "accept-boot", deviceID, "--reason", "kernel 6.12.9 rollout", "--by", "erin",
        ])
        #expect(accepted.contains("accepted the boot of \(deviceID)"), "\(accepted)")
        verdict = try booted.verdict(containing: "\"status\":\"compliant\"")
        #expect(verdict.contains("\"status\":\"compliant\""), "\(verdict)")
        let trail = try collector.command(["audit"])
        #expect(trail.contains("accept-boot") && trail.contains("erin"), "\(trail)")
        #expect(try collector.command(["audit", "verify"]).contains("audit trail intact"))
    }

    /// Secure Boot as firmware measured it into PCR 7 decides for a TPM device, whatever efivars say; a log
    /// that does not replay to the quoted PCRs is named and trusted for nothing.
    @Test func secureBootIsReadFromTheReplayedEventLog() throws {
        let booted = try BootedDevice(
            "sb", log: BootEventLog.uefi(secureBoot: false),
            rules: "  - {name: secure-boot, check: secureBoot, whenUnavailable: pass}\n")
        let (collector, deviceID) = (booted.collector, booted.deviceID)
        try booted.report()
        var verdict = try booted.verdict(containing: "secure-boot")
        #expect(verdict.contains("Secure Boot off (measured by firmware into PCR 7"), "\(verdict)")

        // A log with the event that turned Secure Boot on, which the TPM never saw: it does not replay, so
        // nothing in it counts.
        let forged = BootEventLog.uefi(secureBoot: true)
        try forged.write(to: booted.logPath)
        try booted.report()
        let api = try collector.command(["apitoken", "create", "--name", "reader", "--scope", "fleet:read"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let detail = try Shell.run([
            "curl", "-sS", "--cacert", collector.caPath, "-H", "Authorization: Bearer \(api)",
            collector.apiURL + "/v1/devices/\(deviceID)",
        ]).stdout
        #expect(detail.contains("\"eventLog\":\"invalid\""), "\(detail)")
        #expect(detail.contains("does not replay to the quoted PCR 7"), "\(detail)")
        // Nor does the OS's word: Secure Boot is unproven for this device, and the rule fails.
        verdict = try booted.verdict(containing: "Secure Boot unproven")
        #expect(verdict.contains("Secure Boot unproven"), "\(verdict)")
    }

    /// The maturity stage climbs with the evidence: a TPM key, a quoted boot and an enforcing agent make the
    /// device advanced; a policy engine pulling its verdict (recorded in the store) is what optimal still
    /// asks of it, unless the host's standing sudo holds it back too.
    @Test func theMaturityStageFollowsTheEvidence() throws {
        let booted = try BootedDevice(
            "maturity", log: BootEventLog.uefi(secureBoot: true),
            rules: "  - name: key-in-tpm\n    check: keyProtection\n    minimum: tpm\n")
        let collector = booted.collector
        // An enforcing agent whose nologin file, if it ever wrote one, stays in the test's directory.
        try """
        tpmEventLog: \(booted.logPath)
        enforcement:
          mode: enforce
          nologinPath: \(booted.tpm.directory)/nologin
        """.write(toFile: booted.agentConfiguration, atomically: true, encoding: .utf8)
        try booted.report()
        _ = try booted.verdict(containing: "compliant")
        func token(_ name: String, _ scope: String) throws -> String {
            try collector.command(["apitoken", "create", "--name", name, "--scope", scope])
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let reader = try token("reader", "fleet:read")
        func get(_ path: String, _ token: String) throws -> [String: Any] {
            let body = try Shell.run([
                "curl", "-sS", "--fail", "--cacert", collector.caPath, "-H", "Authorization: Bearer \(token)",
                collector.apiURL + path,
            ]).stdout
            return try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        }
        func maturity() throws -> (stage: String, missing: [String], standing: [String]) {
            let detail = try get("/v1/devices/\(booted.deviceID)", reader)
            let maturity = try #require(detail["maturity"] as? [String: Any], "\(detail)")
            let report = detail["report"] as? [String: Any]
            let sudo = (report?["sudo"] as? [String: Any])?["value"] as? [String: Any]
            return (
                maturity["stage"] as? String ?? "", maturity["missing"] as? [String] ?? [],
                sudo?["standingUsers"] as? [String] ?? ["(not reported)"]
            )
        }
        let before = try maturity()
        #expect(before.stage == "advanced", "\(before)")
        #expect(
            before.missing.contains {
                $0.hasPrefix("verdicts reaching a policy engine: none pulled this device's verdict")
            }, "\(before)")
        #expect(!before.missing.contains { $0.contains("TPM quote") || $0.contains("continuous") }, "\(before)")

        // A policy engine pulls the verdict with its own token.
        _ = try get("/v1/devices/\(booted.deviceID)/verdict", try token("proxy", "verdict:read"))
        let after = try maturity()
        #expect(!after.missing.contains { $0.hasPrefix("verdicts reaching a policy engine") }, "\(after)")
        if after.standing.isEmpty {
            #expect(after.stage == "optimal" && after.missing.isEmpty, "\(after)")
        } else {
            #expect(after.stage == "advanced" && after.missing == [after.missing[0]], "\(after)")
            #expect(after.missing[0].hasPrefix("no standing privileges"), "\(after)")
        }
        let summary = try get("/v1/fleet/summary", reader)
        #expect((summary["byStage"] as? [String: Int])?[after.stage] == 1, "\(summary)")
        #expect(!FileManager.default.fileExists(atPath: booted.tpm.directory + "/nologin"))
    }
}
