import Foundation
import TestSupport
import Testing

/// Time-bound sudo end to end, with stock sudo: a real collector and agent, a local user asking with
/// `posturectl access request`, an operator deciding with `posturectl access approve|deny` over the API,
/// and `sudo -n` run as that user against the drop-ins the agent writes. sudo reads them from a private
/// mount namespace in which the test's directory is `/etc/sudoers.d`: the host's sudoers are not touched.
@Suite(.serialized) struct SudoAccessTests {
    static func policy(user: String) -> String {
        """
        report: {maxAge: 1h}
        rules:
          - {name: kernel-new-enough, check: kernelVersion, minimum: "3.0"}
        access:
          grants:
            - name: sudo-id
              users: [\(user)]
              sudo: {commands: [/usr/bin/id]}
              maxDuration: 1h
            - name: sudo-all
              users: [\(user)]
              sudo: {commands: ALL}
              maxDuration: 30m
              approval: operator
        """
    }

    @Test(
        Requirement.available(
            programs: ["/usr/bin/sudo", "/usr/sbin/visudo", "useradd", "runuser", "unshare", "mount"], root: true))
    func sudoWorksDuringAGrantAndNotAfterItsDeadlineARestartOrNonCompliance() throws {
        let bob = try AccessTests.LocalUser("pj-s")
        let directory = try Paths.temporaryDirectory("e2e-sudo")
        let policyPath = directory.appendingPathComponent("policy.yaml").path
        try Self.policy(user: bob.name).write(toFile: policyPath, atomically: true, encoding: .utf8)
        let collector = try CollectorHarness("e2e-sudo", configuration: "policy: {path: \(policyPath)}")
        let token = directory.appendingPathComponent("token").path
        try collector.command([
            "apitoken", "create", "--name", "ops", "--scope", "fleet:read", "--scope", "fleet:write",
        ])
        .write(toFile: token, atomically: true, encoding: .utf8)
        chmod(token, 0o600)
        let sudoers = directory.appendingPathComponent("sudoers.d").path
        try FileManager.default.createDirectory(
            atPath: sudoers, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o750])
        let (state, deviceID) = try collector.enrollAgent("agent")
        let socket = directory.appendingPathComponent("access.sock").path
        let agentCommand = [
            CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "2s", "--access-socket", socket,
            "--sudoers-directory", sudoers, "--grant-refresh", "1s",
        ]
        var agent = try BackgroundProcess(agentCommand, logPath: directory.appendingPathComponent("agent.log").path)
        defer { agent.signal(SIGTERM) }
        #expect(BackgroundProcess.eventually(timeout: 30) { agent.log.contains("-> compliant") })
        let posturectl = directory.appendingPathComponent("posturectl").path
        try FileManager.default.createSymbolicLink(
            atPath: posturectl, withDestinationPath: CollectorHarness.agentBinary)

        /// `sudo -n COMMAND` as bob, with the test's drop-ins as /etc/sudoers.d.
        func sudo(_ command: [String]) throws -> Shell.Output {
            try Shell.runAllowingFailure(
                [
                    "unshare", "-m", "sh", "-c", "mount --bind \"$0\" /etc/sudoers.d && exec \"$@\"", sudoers,
                    "runuser", "-u", bob.name, "--", "sudo", "-n",
                ] + command, timeout: 30)
        }
        func dropIns() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: sudoers)) ?? []).filter {
                $0.hasPrefix("posture-grant-")
            }
        }
        func request(_ grant: String, for duration: String, wait: Bool = false) throws -> Shell.Output {
            try bob.run(
                [
                    posturectl, "access", "request", "--grant", grant, "--for", duration, "--reason", "deploy 42",
                    "--socket", socket,
                ]
                    + (wait ? ["--wait"] : []), allowingFailure: true)
        }
        func operatorCommand(_ arguments: [String]) throws -> Shell.Output {
            try Shell.runAllowingFailure(
                [posturectl, "access"] + arguments + [
                    "--collector", collector.apiURL, "--token-file", token, "--ca", collector.caPath,
                ], timeout: 60)
        }
        func id(_ output: Shell.Output) -> String? {
            output.stdout.split(whereSeparator: { !$0.isNumber }).first.map(String.init)
        }

        // No grant: sudo refuses.
        #expect(try sudo(["/usr/bin/id", "-u"]).status != 0)

        // An auto grant: in force at once, for its commands only, removed at the deadline.
        let asked = Date()
        let granted = try request("sudo-id", for: "4s")
        #expect(granted.status == 0, "\(granted.stderr)")
        print("sudo granted in \(String(format: "%.3f", Date().timeIntervalSince(asked))) s: \(granted.stdout)")
        #expect(dropIns().count == 1)
        let during = try sudo(["/usr/bin/id", "-u"])
        #expect(during.status == 0 && during.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "\(during)")
        #expect(try sudo(["/usr/bin/whoami"]).status != 0, "only the grant's commands")
        #expect(BackgroundProcess.eventually(timeout: 10) { dropIns().isEmpty })
        #expect(try sudo(["/usr/bin/id", "-u"]).status != 0)

        // Past its deadline while the agent was stopped: sudo itself refuses (NOTAFTER), and the restarted
        // agent removes the drop-in at once.
        #expect(try request("sudo-id", for: "3s").status == 0)
        #expect(dropIns().count == 1)
        agent.signal(SIGTERM)
        #expect(BackgroundProcess.eventually(timeout: 30) { !agent.isRunning })
        Thread.sleep(forTimeInterval: 4)
        #expect(dropIns().count == 1, "nothing removed it while the agent was stopped")
        #expect(try sudo(["/usr/bin/id", "-u"]).status != 0, "sudo refuses it past NOTAFTER")
        agent = try BackgroundProcess(agentCommand, logPath: directory.appendingPathComponent("agent2.log").path)
        #expect(BackgroundProcess.eventually(timeout: 30) { dropIns().isEmpty })

        // An operator's grant waits, is approved over the API, and comes into force on the device.
        let pending = try request("sudo-all", for: "10m")
        #expect(pending.status == 0 && pending.stdout.contains("waits for an operator"), "\(pending)")
        let pendingID = try #require(id(pending))
        #expect(dropIns().isEmpty)
        let listed = try operatorCommand(["grants", "--device", deviceID, "--format", "json"])
        #expect(listed.status == 0 && listed.stdout.contains("\"status\" : \"pending\""), "\(listed)")
        let approved = try operatorCommand(["approve", pendingID, "--reason", "change 7"])
        #expect(approved.status == 0, "\(approved.stderr)")
        #expect(try operatorCommand(["approve", pendingID, "--reason", "again"]).status == 6, "no longer pending")
        #expect(BackgroundProcess.eventually(timeout: 15) { dropIns().count == 1 })
        #expect(try sudo(["/usr/bin/whoami"]).stdout.contains("root"))

        // A denied request never comes into force; bob sees why. Denied on the dashboard's device page.
        let second = try request("sudo-all", for: "5m")
        let secondID = try #require(id(second))
        let session = try collector.signInToDashboard(token: try String(contentsOfFile: token, encoding: .utf8))
        let page = try collector.dashboard("GET", "/ui/devices/\(deviceID)", cookie: session)
        #expect(page.body.contains("id=\"deny-\(secondID)\"") && page.body.contains("deploy 42"), "\(page.body)")
        let csrf = try #require(
            page.body.range(of: #"name="csrf" value="([^"]+)""#, options: .regularExpression).map {
                String(page.body[$0].dropFirst(#"name="csrf" value=""#.count).dropLast())
            })
        let denied = try collector.dashboard(
            "POST", "/ui/devices/\(deviceID)/deny", cookie: session,
            form: "grant=\(secondID)&reason=not+today&csrf=\(csrf)",
            origin: collector.apiURL)
        #expect(denied.status == 303, "\(denied.body)")
        #expect(try operatorCommand(["deny", secondID, "--reason", "again"]).status == 6, "decided once")
        let status = try bob.run([posturectl, "access", "status", "--socket", socket])
        #expect(status.stdout.contains("\(secondID)") && status.stdout.contains("denied"), "\(status.stdout)")
        #expect(dropIns().count == 1)

        // An operator revokes the approved grant over the API: its drop-in goes, another grant's stays.
        #expect(try request("sudo-id", for: "10m").status == 0)
        #expect(dropIns().count == 2)
        #expect(try operatorCommand(["revoke", pendingID, "--reason", "done early"]).status == 0)
        #expect(try operatorCommand(["revoke", pendingID, "--reason", "again"]).status == 5, "no longer active")
        #expect(BackgroundProcess.eventually(timeout: 15) { dropIns().count == 1 })
        #expect(!dropIns().contains { $0.hasPrefix("posture-grant-\(pendingID)-") })
        let bobs = try operatorCommand(["grants", "--user", bob.name, "--format", "json"])
        #expect(bobs.stdout.components(separatedBy: "\"user\" : \"\(bob.name)\"").count - 1 == 5, "\(bobs.stdout)")
        let nobody = try operatorCommand(["grants", "--user", "nobody-else", "--format", "json"])
        #expect(nobody.status == 0 && !nobody.stdout.contains("\"user\""), "\(nobody.stdout)")

        // Quarantined and released at once: the grant stays ended, though the agent may look only after the
        // release, and a collector may evaluate the device only after it (the quarantine itself revoked it).
        try collector.command(["devices", "quarantine", deviceID, "--reason", "blip", "--by", "erin"])
        try collector.command(["devices", "release", deviceID, "--reason", "blip", "--by", "erin"])
        Thread.sleep(forTimeInterval: 4)
        #expect(dropIns().isEmpty, "\(dropIns())")
        let afterBlip = try bob.run([posturectl, "access", "status", "--socket", socket]).stdout
        #expect(afterBlip.split(separator: "\n").filter { $0.contains("revoked") }.count == 2, "\(afterBlip)")
        #expect(try request("sudo-id", for: "10m").status == 0)
        #expect(dropIns().count == 1)

        // The device turns non-compliant: the drop-in goes within seconds, and the grant is revoked.
        let quarantined = Date()
        try collector.command(["devices", "quarantine", deviceID, "--reason", "incident 9", "--by", "erin"])
        #expect(BackgroundProcess.eventually(timeout: 30) { dropIns().isEmpty })
        print("sudo removed \(String(format: "%.2f", Date().timeIntervalSince(quarantined))) s after the quarantine")
        #expect(try sudo(["/usr/bin/whoami"]).status != 0)
        let refused = try request("sudo-id", for: "5m")
        #expect(refused.status == 1 && refused.stderr.contains("device-not-compliant"), "\(refused.stderr)")

        // Every step is in the audit trail, which verifies; the revocation once the agent told the collector.
        #expect(
            BackgroundProcess.eventually(timeout: 15) {
                (try? collector.command(["access", "events", "--device", deviceID]))?.contains("sudo-revoked") == true
            })
        #expect(try collector.command(["audit", "verify"]).contains("audit trail intact"))
        let events = try collector.command(["access", "events", "--device", deviceID])
        for event in [
            "sudo-granted", "sudo-expired", "sudo-requested", "sudo-approved", "sudo-denied", "sudo-revoked",
            "sudo-refused",
        ] {
            #expect(events.contains("\"\(event)\""), "\(event) in \(events)")
        }
    }
}
