import Foundation
import PostureModel
import TestSupport
import Testing

/// The shipped executable, run as a user would: `postured probe`, its JSON decoded with the model's
/// own decoder, its facts checked against the host and against rulesets and journals made for the test.
@Suite struct PosturedProbeTests {
    static let postured = Paths.executable("postured")

    private func report(_ arguments: [String], in namespace: NetworkNamespace? = nil) throws -> PostureReport {
        let command = [Self.postured, "probe", "--format", "json"] + arguments
        let output = try namespace.map { try $0.exec(command) } ?? Shell.run(command)
        return try PostureReport.makeDecoder().decode(PostureReport.self, from: Data(output.stdout.utf8))
    }

    @Test func reportDescribesThisHost() throws {
        let report = try report([])
        #expect(report.schemaVersion == PostureReport.currentSchemaVersion)
        #expect(abs(report.collectedAt.timeIntervalSinceNow) < 60)
        let uname = try Shell.run(["uname", "-r"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(report.os.kernelRelease.value == uname)
        let osRelease = try String(contentsOfFile: "/etc/os-release", encoding: .utf8)
        let id = try #require(report.os.osRelease.value?["ID"])
        #expect(osRelease.contains("ID=\(id)"))
        // Root's encryption state is a definite answer on a block-backed root, with its chain listed.
        let disk = try #require(report.diskEncryption.value)
        if let root = disk.volumes.first(where: { $0.mountPoints.contains("/") }) {
            #expect(disk.rootEncrypted.value == root.encrypted)
            #expect(!root.devices.isEmpty)
        } else {
            #expect(disk.rootEncrypted.unavailableReason != nil)
        }
    }

    /// Without CAP_NET_ADMIN the kernel refuses the ruleset (EPERM): the fact says so and names the fix,
    /// recognized by errno, not by libnftables' words.
    @Test(Requirement.available(programs: ["setpriv"], root: true))
    func aFirewallReadWithoutPrivilegeIsUnavailableAndSaysWhy() throws {
        let directory = try Paths.temporaryDirectory("probe-unprivileged")
        let copy = directory.appendingPathComponent("postured").path
        try FileManager.default.copyItem(atPath: Self.postured, toPath: copy)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: copy)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path)
        let output = try Shell.run([
            "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", copy, "probe", "--format", "json",
        ])
        let report = try PostureReport.makeDecoder().decode(PostureReport.self, from: Data(output.stdout.utf8))
        #expect(report.firewall.activeFrameworks.value == nil)
        let reason = report.firewall.activeFrameworks.unavailableReason ?? ""
        #expect(reason.contains("needs root or CAP_NET_ADMIN"), "\(reason)")
    }

    /// Sessions come from logind over the system bus: with no bus, or a bus where logind does not run (a
    /// container without systemd), the fact is unavailable and says which.
    @Test(Requirement.available(programs: ["dbus-daemon"]))
    func sessionsWithoutLogindAreUnavailableAndSayWhy() throws {
        var environment = ProcessInfo.processInfo.environment
        let directory = try Paths.temporaryDirectory("probe-no-logind")
        environment["DBUS_SYSTEM_BUS_ADDRESS"] = "unix:path=\(directory.path)/absent"
        func sessions() throws -> Fact<SessionFacts>? {
            let output = try Shell.run([Self.postured, "probe", "--format", "json"], environment: environment)
            return try PostureReport.makeDecoder().decode(PostureReport.self, from: Data(output.stdout.utf8)).sessions
        }
        let noBus = try #require(try sessions())
        #expect(noBus.unavailableReason?.hasPrefix("no D-Bus system bus") == true, "\(noBus)")
        #expect(noBus.source == "org.freedesktop.login1 (D-Bus)")

        let socket = directory.appendingPathComponent("bus").path
        let bus = try BackgroundProcess(
            ["/usr/bin/dbus-daemon", "--session", "--nofork", "--address=unix:path=\(socket)"],
            logPath: directory.appendingPathComponent("bus.log").path)
        defer { bus.signal(SIGKILL) }
        _ = BackgroundProcess.eventually(timeout: 5) { FileManager.default.fileExists(atPath: socket) }
        environment["DBUS_SYSTEM_BUS_ADDRESS"] = "unix:path=\(socket)"
        let noLogind = try #require(try sessions())
        #expect(
            noLogind.unavailableReason?.hasPrefix("systemd-logind is not running on the system bus") == true,
            "\(noLogind)")
    }

    @Test func statusOfAnAgentNotEnrolledSaysSoInBothFormats() throws {
        let empty = try Paths.temporaryDirectory("status-not-enrolled").path
        let table = try Shell.runAllowingFailure([Self.postured, "status", "--state-dir", empty])
        #expect(table.status == 3)
        #expect(table.stdout.contains("not enrolled (no \(empty)/enrollment.json)"))
        let json = try Shell.runAllowingFailure([Self.postured, "status", "--state-dir", empty, "--format", "json"])
        #expect(json.status == 3)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(report["enrolled"] as? Bool == false)
        #expect(report["verdict"] == nil)
    }

    @Test func tableFormatIsTheDefaultAndNamesEverySection() throws {
        let output = try Shell.run([Self.postured, "probe"]).stdout
        for section in ["Operating system", "Disk encryption", "Firewall", "Journal", "Platform"] {
            #expect(output.contains(section), "missing section \(section)")
        }
    }

    @Test(Requirement.available(programs: ["ip", "nft"], root: true))
    func firewallVerdictFollowsTheNamespaceRuleset() throws {
        let namespace = try NetworkNamespace(label: "e2e-fw")
        let open = try report([], in: namespace)
        #expect(open.firewall.inboundFiltered.value?.ipv4 == false)
        try namespace.loadNftables(
            """
            table inet filter {
              chain input { type filter hook input priority 0; policy drop; iif "lo" accept; }
            }
            """)
        let closed = try report([], in: namespace)
        #expect(closed.firewall.inboundFiltered.value?.ipv4 == true)
        #expect(closed.firewall.inboundFiltered.value?.ipv6 == true)
        #expect(closed.firewall.nftables.value?.tables.map(\.name) == ["filter"])
    }

    @Test(Requirement.available(programs: [JournalFixture.journalRemote]))
    func journalCursorRoundTripsThroughTheCommandLine() throws {
        var fixture = JournalFixture(directory: try Paths.temporaryDirectory("e2e-journal"))
        let failure = [
            "SYSLOG_IDENTIFIER": "sshd", "_TRANSPORT": "syslog",
            "MESSAGE": "Failed password for root from 203.0.113.5 port 22 ssh2",
        ]
        try fixture.append(Array(repeating: failure, count: 3))
        let first = try #require(try report(["--journal-file", fixture.file.path]).journal.value)
        #expect(first.counts[.sshAuthFailure] == 3)
        let cursor = try #require(first.cursor)

        try fixture.append(Array(repeating: failure, count: 2))
        let second = try #require(
            try report(["--journal-file", fixture.file.path, "--journal-cursor", cursor]).journal.value)
        #expect(second.counts[.sshAuthFailure] == 2)
        #expect(second.afterCursor == cursor)
    }

    @Test func badUsageExitsWithUsageErrorNamingTheOption() throws {
        let output = try Shell.runAllowingFailure([Self.postured, "probe", "--journal-window", "soon"])
        #expect(output.status == 64)
        #expect(output.stderr.contains("--journal-window"))
        let both = try Shell.runAllowingFailure([
            Self.postured, "probe", "--journal-file", "/a", "--journal-directory", "/b",
        ])
        #expect(both.status == 64)
        #expect(both.stderr.contains("--journal-directory"))
    }

    @Test func aMissingRootTreeIsReportedAsUnavailableNotACrash() throws {
        let report = try report(["--root", "/nonexistent-posture-root"])
        #expect(report.os.machineID.unavailableReason != nil)
        #expect(report.diskEncryption.unavailableReason?.contains("mountinfo") == true)
    }
}

/// `postured check-config` and `postured run --config`, as an administrator meets them.
@Suite struct PosturedConfigurationTests {
    @Test func checkConfigPassesTheShippedFileAndNamesTheLineOfABrokenOne() throws {
        let shipped = Paths.packageRoot.appendingPathComponent("etc/posture/agent.yaml").path
        let good = try Shell.run([PosturedProbeTests.postured, "check-config", "--config", shipped])
        #expect(good.stdout.contains("\(shipped): valid") && good.stdout.contains("enforcement dry-run"))

        let directory = try Paths.temporaryDirectory("agent-config")
        let broken = directory.appendingPathComponent("agent.yaml").path
        try "interval: 60s\nenforcement:\n  mode: always\n".write(toFile: broken, atomically: true, encoding: .utf8)
        let check = try Shell.runAllowingFailure([PosturedProbeTests.postured, "check-config", "--config", broken])
        #expect(check.status != 0)
        #expect(check.stderr.contains("\(broken):3: enforcement.mode: 'always' is not one of off, dry-run, enforce"))
        // The daemon refuses to start on it, with the same words, before doing anything.
        let run = try Shell.runAllowingFailure(
            [
                PosturedProbeTests.postured, "run", "--config", broken, "--state-dir",
                directory.appendingPathComponent("state").path, "--count", "1",
            ], timeout: 30)
        #expect(run.status != 0 && run.stderr.contains("\(broken):3: enforcement.mode"), "\(run.stderr)")
    }
}
