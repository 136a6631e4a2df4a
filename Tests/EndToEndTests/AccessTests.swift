import Foundation
import TestSupport
import Testing

/// Just-in-time SSH access end to end, on stock OpenSSH: a real collector and agent, a local user asking
/// with `posturectl ssh certificate`, a real `sshd` trusting the collector's SSH CA and reading the KRL the
/// agent keeps, and stock `ssh` logging in, until the device turns non-compliant.
@Suite(.serialized) struct AccessTests {
    /// A local account made for the test (removed with its home at the end), with an Ed25519 key.
    final class LocalUser {
        let name: String
        let home: String
        var key: String { home + "/.ssh/id_ed25519" }

        init(_ prefix: String) throws {
            name = prefix + String(UInt32.random(in: 0...0xffff), radix: 16)
            home = "/home/" + name
            try Shell.run(["useradd", "-m", "-s", "/bin/sh", name])
            // Not locked ('!'): sshd without PAM refuses locked accounts even with a certificate.
            try Shell.run(["usermod", "-p", "*", name])
            try run(["mkdir", "-p", "-m", "700", home + "/.ssh"])
            try run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key])
        }

        /// `arguments` as this user, with its HOME.
        @discardableResult
        func run(_ arguments: [String], allowingFailure: Bool = false) throws -> Shell.Output {
            let command = ["runuser", "-u", name, "--", "env", "HOME=\(home)"] + arguments
            return allowingFailure ? try Shell.runAllowingFailure(command, timeout: 60) : try Shell.run(command)
        }

        deinit { _ = try? Shell.runAllowingFailure(["userdel", "-r", "-f", name]) }
    }

    static func policy(users: [String]) -> String {
        """
        report: {maxAge: 1h}
        rules:
          - {name: kernel-new-enough, check: kernelVersion, minimum: "3.0"}
        access:
          grants:
            - name: ssh-test
              users: [\(users.joined(separator: ", "))]
              ssh: {principals: ["${user}"]}
              maxDuration: 15m
        """
    }

    /// A real sshd on a loopback port of this host: trusts `caFile`, reads `krlFile`, nothing else lets in.
    static func sshd(directory: URL, caFile: String, krlFile: String) throws -> (DirectSpawn.Server, Int) {
        let hostKey = directory.appendingPathComponent("ssh_host_ed25519_key").path
        try Shell.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey])
        let port = try freeLoopbackPort()
        let config = directory.appendingPathComponent("sshd_config").path
        try """
        ListenAddress 127.0.0.1:\(port)
        HostKey \(hostKey)
        TrustedUserCAKeys \(caFile)
        RevokedKeys \(krlFile)
        AuthorizedKeysFile none
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        UsePAM no
        StrictModes no
        PidFile none
        LogLevel VERBOSE
        """.write(toFile: config, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        let server = try DirectSpawn.Server(
            ["/usr/sbin/sshd", "-D", "-e", "-f", config], logPath: directory.appendingPathComponent("sshd.log").path)
        #expect(BackgroundProcess.eventually(timeout: 10) { server.log.contains("Server listening") })
        return (server, port)
    }

    /// Logs in as `user` with its key and certificate; the exit status and what sshd's client said.
    static func login(_ user: LocalUser, port: Int) throws -> Shell.Output {
        try user.run(
            [
                "ssh", "-F", "/dev/null", "-i", user.key, "-o", "CertificateFile=\(user.key)-cert.pub", "-o",
                "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o",
                "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10", "-p", String(port),
                "\(user.name)@127.0.0.1", "id", "-un",
            ], allowingFailure: true)
    }

    @Test(
        Requirement.available(
            programs: ["/usr/sbin/sshd", "ssh", "ssh-keygen", "useradd", "runuser"], root: true))
    func aCompliantDevicesUserLogsInWithACertificateUntilTheKRLRevokesIt() throws {
        let alice = try LocalUser("pj-a")
        let mallory = try LocalUser("pj-m")
        let directory = try Paths.temporaryDirectory("e2e-access")
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path)
        let policyPath = directory.appendingPathComponent("policy.yaml").path
        try Self.policy(users: [alice.name, mallory.name]).write(toFile: policyPath, atomically: true, encoding: .utf8)
        let collector = try CollectorHarness("e2e-access", configuration: "policy: {path: \(policyPath)}")
        #expect(try collector.command(["policy", "check", policyPath]).contains("1 access grants (ssh-test)"))
        let caFile = directory.appendingPathComponent("posture-user-ca.pub").path
        try collector.command(["ssh", "ca"]).write(toFile: caFile, atomically: true, encoding: .utf8)
        #expect(try String(contentsOfFile: caFile, encoding: .utf8).hasPrefix("ssh-ed25519 "))

        // The device: an agent serving the access socket, and keeping the KRL for this host's sshd.
        let (state, deviceID) = try collector.enrollAgent("agent")
        let socket = directory.appendingPathComponent("access.sock").path
        let krlFile = directory.appendingPathComponent("revoked.krl").path
        let agent = try BackgroundProcess(
            [
                CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "2s", "--access-socket",
                socket, "--revoked-keys-file", krlFile, "--krl-refresh", "1s",
            ], logPath: directory.appendingPathComponent("agent.log").path)
        defer { agent.signal(SIGTERM) }
        #expect(BackgroundProcess.eventually(timeout: 30) { FileManager.default.fileExists(atPath: krlFile) })
        #expect(BackgroundProcess.eventually(timeout: 30) { agent.log.contains("-> compliant") })
        // The agent keeps the CA key beside the KRL, as the packaged sshd drop-in reads it: sshd trusts that.
        let agentCA = directory.appendingPathComponent("ssh-user-ca.pub").path
        #expect(BackgroundProcess.eventually(timeout: 30) { FileManager.default.fileExists(atPath: agentCA) })
        let keyField = { (path: String) in
            (try? String(contentsOfFile: path, encoding: .utf8))?.split(separator: " ").dropFirst().first
        }
        #expect(keyField(agentCA) != nil && keyField(agentCA) == keyField(caFile))
        let (sshd, port) = try Self.sshd(directory: directory, caFile: agentCA, krlFile: krlFile)
        defer { sshd.stop() }
        func states() throws -> [String] {
            let rows = try JSONSerialization.jsonObject(
                with: Data(try collector.command(["access", "grants", "--device", deviceID]).utf8))
            return (rows as? [[String: Any]] ?? []).compactMap { $0["state"] as? String }
        }
        let posturectl = directory.appendingPathComponent("posturectl").path
        try FileManager.default.createSymbolicLink(
            atPath: posturectl, withDestinationPath: CollectorHarness.agentBinary)

        // Without a certificate, nothing lets alice in.
        #expect(try Self.login(alice, port: port).status != 0)

        // Alice asks as herself: a certificate for her key, her name as its only principal.
        let asked = Date()
        let issued = try alice.run([posturectl, "ssh", "certificate", "--grant", "ssh-test", "--socket", socket])
        print("certificate issued in \(String(format: "%.3f", Date().timeIntervalSince(asked))) s: \(issued.stdout)")
        let listing = try Shell.run(["ssh-keygen", "-L", "-f", alice.key + "-cert.pub"]).stdout
        #expect(listing.contains("Key ID: \"posture device=\(deviceID) user=\(alice.name) grant=ssh-test\""))
        #expect(listing.contains("Principals: \n                \(alice.name)\n"))
        let login = try Self.login(alice, port: port)
        #expect(login.status == 0, "\(login.stderr)\n\(sshd.log)")
        #expect(login.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == alice.name)

        // Mallory cannot have a certificate for alice's key: the proof is signed by a key she holds.
        try Shell.run(["cp", alice.key + ".pub", mallory.home + "/alice.pub"])
        let stolen = try mallory.run(
            [
                posturectl, "ssh", "certificate", "--grant", "ssh-test", "--socket", socket, "--key",
                mallory.home + "/alice.pub",
            ], allowingFailure: true)
        #expect(stolen.status == 1)
        #expect(!FileManager.default.fileExists(atPath: mallory.home + "/alice-cert.pub"))
        // Her own certificate names her, and does not let her in as alice.
        try mallory.run([posturectl, "ssh", "certificate", "--grant", "ssh-test", "--socket", socket])
        let asAlice = try mallory.run(
            [
                "ssh", "-F", "/dev/null", "-i", mallory.key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o",
                "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-p", String(port),
                "\(alice.name)@127.0.0.1", "true",
            ], allowingFailure: true)
        #expect(asAlice.status != 0)
        #expect(sshd.log.contains("name is not a listed principal"))
        // An operator revokes mallory's grant: her certificate joins the KRL, alice's does not.
        let serial = try Shell.run(["ssh-keygen", "-L", "-f", mallory.key + "-cert.pub"]).stdout
            .split(separator: "\n").first { $0.contains("Serial:") }?.split(separator: " ").last.map(String.init)
        try collector.command(["access", "revoke", try #require(serial), "--reason", "left the team", "--by", "erin"])
        #expect(
            BackgroundProcess.eventually(timeout: 30) {
                (try? Shell.runAllowingFailure(["ssh-keygen", "-Q", "-f", krlFile, mallory.key + "-cert.pub"]))?
                    .stdout.contains("REVOKED") == true
            })
        #expect(try Self.login(alice, port: port).status == 0)

        // The device turns non-compliant: the live certificate is in the KRL within seconds, sshd refuses it.
        let quarantined = Date()
        try collector.command(["devices", "quarantine", deviceID, "--reason", "incident 12", "--by", "erin"])
        let revoked = BackgroundProcess.eventually(timeout: 30) {
            let query = try? Shell.runAllowingFailure(["ssh-keygen", "-Q", "-f", krlFile, alice.key + "-cert.pub"])
            return query?.stdout.contains("REVOKED") == true
        }
        #expect(revoked)
        print("KRL in force \(String(format: "%.2f", Date().timeIntervalSince(quarantined))) s after the quarantine")
        #expect(try Self.login(alice, port: port).status != 0)
        #expect(sshd.log.contains("revoked by file \(krlFile)"))
        #expect(try states() == ["revoked", "revoked"], "both users' certificates from this device")

        // And a new request is refused with the reason.
        let refused = try alice.run(
            [posturectl, "ssh", "certificate", "--grant", "ssh-test", "--socket", socket], allowingFailure: true)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("device-not-compliant"), "\(refused.stderr)")

        // Released: a short certificate logs in, and once expired is refused.
        try collector.command(["devices", "release", deviceID, "--reason", "cleared", "--by", "erin"])
        #expect(
            BackgroundProcess.eventually(timeout: 30) {
                (try? Shell.runAllowingFailure(["ssh-keygen", "-Q", "-f", krlFile, alice.key + "-cert.pub"]))?
                    .stdout.contains("REVOKED") == false
            })
        try alice.run([posturectl, "ssh", "certificate", "--grant", "ssh-test", "--socket", socket, "--for", "3s"])
        #expect(try Self.login(alice, port: port).status == 0)
        Thread.sleep(forTimeInterval: 4)
        #expect(try Self.login(alice, port: port).status != 0)
        #expect(sshd.log.contains("Certificate invalid: expired"))

        #expect(try states() == ["expired", "revoked", "active"])

        // Every grant, revocation and refusal is in the audit trail, which verifies.
        #expect(try collector.command(["audit", "verify"]).contains("audit trail intact"))
        let events = try Shell.run([
            "/usr/bin/python3", "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(' '.join(r[0] for r in c.execute(\"SELECT e.event FROM audit_log a JOIN access_events e ON e.id = a.source_id WHERE a.kind = 'access' ORDER BY a.id\")))",
            collector.stateDirectory + "/collector.sqlite",
        ]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(
            events
                == "ssh-certificate-issued ssh-certificate-issued grant-revoked ssh-certificate-refused ssh-certificate-issued"
        )
    }
}
