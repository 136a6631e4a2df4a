import Foundation
import TestSupport
import Testing

/// Risk that adapts, through the real collector and agent: a new device's burst of ssh failures (in a real
/// journal file) is judged against its peers' usual rate, a risk bound makes it non-compliant, and a
/// restarted collector judges it the same from the signal history it keeps in the store.
@Suite(.serialized, Requirement.available(programs: [JournalFixture.journalRemote, "journalctl"]))
struct AdaptiveRiskTests {
    static let policy = """
        report: {maxAge: 1h}
        risk:
          window: 1h
          baseline: {halfLife: 7d, margin: 5, floorPerHour: 2, points: 20}
        rules:
          - {name: calm, check: maxRisk, max: 30, severity: high}
        """

    @Test func aBurstOnANewDeviceRaisesRiskAgainstItsPeersAndTheBoundCutsItOff() throws {
        let directory = try Paths.temporaryDirectory("adaptive-risk")
        let policyPath = directory.appendingPathComponent("policy.yaml").path
        try Self.policy.write(toFile: policyPath, atomically: true, encoding: .utf8)
        let collector = try CollectorHarness("e2e-risk", configuration: "policy: {path: \(policyPath)}\n")
        let (quietState, quiet) = try collector.enrollAgent("quiet", tokenOptions: ["--label", "team=web"])
        let (noisyState, noisy) = try collector.enrollAgent("noisy", tokenOptions: ["--label", "team=web"])

        // The noisy device's journal: twelve failed ssh logins two minutes ago; the quiet one's: none.
        let journals = directory.appendingPathComponent("journal")
        try FileManager.default.createDirectory(at: journals, withIntermediateDirectories: true)
        var fixture = JournalFixture(directory: journals)
        try fixture.append(
            (0..<12).map {
                [
                    "SYSLOG_IDENTIFIER": "sshd", "_TRANSPORT": "syslog", "_SYSTEMD_UNIT": "ssh.service",
                    "MESSAGE": "Failed password for root from 192.0.2.\($0) port 22 ssh2",
                ]
            }, secondsAgo: 120)
        let empty = directory.appendingPathComponent("empty-journal")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        for (state, source) in [(quietState, empty), (noisyState, journals)] {
            try Shell.run([
                CollectorHarness.agentBinary, "run", "--state-dir", state, "--journal-directory", source.path,
                "--count", "1",
            ])
        }

        func verdict(_ id: String, containing text: String) -> String {
            var verdict = ""
            _ = BackgroundProcess.eventually(timeout: 15) {
                verdict = (try? collector.command(["devices", "verdict", id])) ?? ""
                return verdict.contains(text)
            }
            return verdict
        }
        // Fixed weights (+12, one a failure) and the departure from the usual rate (+20): a new device, whose
        // peers have no history yet, starts from a usual rate of none.
        let judged = verdict(noisy, containing: "baseline")
        #expect(judged.contains("+20 sshAuthFailure 12/h, baseline 0/h"), "\(judged)")
        #expect(judged.contains("+12 12 sshAuthFailure in 1h"), "\(judged)")
        #expect(judged.contains("\"status\":\"noncompliant\""), "\(judged)")
        #expect(judged.contains("risk 32: "), "\(judged)")
        let calm = verdict(quiet, containing: "\"status\"")
        #expect(calm.contains("\"status\":\"compliant\"") && calm.contains("\"risk\":0"), "\(calm)")

        // A restarted collector reads the signal history back and judges the same.
        collector.stop()
        try collector.start()
        let again = verdict(noisy, containing: "baseline")
        #expect(again.contains("+20 sshAuthFailure 12/h, baseline 0/h") && again.contains("risk 32: "), "\(again)")
    }
}
