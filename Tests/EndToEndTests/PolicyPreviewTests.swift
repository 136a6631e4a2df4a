import Foundation
import TestSupport
import Testing

/// The what-if before enforcing (`posture-collector policy diff`, `POST /v1/policy/preview`) and policy unit
/// tests (`posture-collector policy test --cases`), with real agents' reports.
@Suite(.serialized, Requirement.available(programs: ["curl"]))
struct PolicyPreviewTests {
    let inForce = """
        report: {maxAge: 1h}
        rules:
          - {name: sshd-no-empty-passwords, check: sshd, permitEmptyPasswords: false, severity: high}
        """
    /// The policy in force plus a rule no kernel meets, for servers only.
    var candidate: String {
        inForce
            + "\n  - {name: server-kernel, check: kernelVersion, minimum: \"999.0\", severity: high, labels: {class: server}}\n"
    }

    @Test func aCandidatePolicyIsPreviewedAgainstTheFleetAndNothingChanges() throws {
        let directory = try Paths.temporaryDirectory("e2e-policy-preview")
        let policyPath = directory.appendingPathComponent("policy.yaml").path
        let candidatePath = directory.appendingPathComponent("candidate.yaml").path
        try inForce.write(toFile: policyPath, atomically: true, encoding: .utf8)
        try candidate.write(toFile: candidatePath, atomically: true, encoding: .utf8)
        let collector = try CollectorHarness("e2e-policy-preview", configuration: "policy: {path: \(policyPath)}")
        defer { collector.stop() }
        let (laptopState, laptop) = try collector.enrollAgent("laptop", tokenOptions: ["--label", "class=laptop"])
        let (serverState, server) = try collector.enrollAgent("server", tokenOptions: ["--label", "class=server"])
        for state in [laptopState, serverState] {
            try Shell.run([
                CollectorHarness.agentBinary, "run", "--state-dir", state, "--count", "1", "--interval", "1s",
            ])
        }
        let reader = try collector.apiToken(["--name", "r", "--scope", "fleet:read"])
        let verdictReader = try collector.apiToken(["--name", "v", "--scope", "verdict:read"])
        let verdictsBefore = try [laptop, server].map { try served(collector, $0, token: verdictReader) }
        try #require(verdictsBefore.allSatisfy { $0.status == "compliant" }, "\(verdictsBefore)")

        // Offline, from the store, as an operator runs it before replacing the file.
        let offline = try json(try collector.command(["policy", "diff", candidatePath, "--format", "json"]))
        let online = try post(collector, candidate, token: reader)
        for preview in [offline, try json(online.body)] {
            #expect(preview["devices"] as? Int == 2)
            #expect(preview["changed"] as? Int == 1)
            let changes = preview["changes"] as? [[String: Any]] ?? []
            #expect(changes.map { $0["deviceID"] as? String } == [server])
            #expect(changes.first?["from"] as? String == "compliant")
            // The kernel fact is observed (fails) or unavailable (unknown): either way that rule is the reason.
            let reasons =
                ((changes.first?["newlyFailing"] as? [[String: Any]]) ?? [])
                + ((changes.first?["newlyUnknown"] as? [[String: Any]]) ?? [])
            #expect(reasons.map { $0["rule"] as? String } == ["server-kernel"])
            let rule = (preview["rules"] as? [[String: Any]])?.first { $0["rule"] as? String == "server-kernel" }
            #expect(rule?["failingNow"] as? Int == 0)
            #expect((rule?["failingCandidate"] as? Int ?? 0) + (rule?["unknownCandidate"] as? Int ?? 0) == 1)
            #expect(preview["candidatePolicy"] as? String != preview["currentPolicy"] as? String)
        }
        let text = try collector.command(["policy", "diff", candidatePath])
        #expect(text.contains("1 would change verdict"), "\(text)")
        #expect(text.contains("\(server) "), "\(text)")

        // posturectl, for an operator with a fleet:read token.
        let posturectl = directory.appendingPathComponent("posturectl").path
        try FileManager.default.createSymbolicLink(
            atPath: posturectl, withDestinationPath: CollectorHarness.agentBinary)
        let ctl = try Shell.runAllowingFailure(
            [posturectl, "policy", "preview", candidatePath],
            environment: [
                "PATH": "/usr/bin:/bin", "HOME": directory.path, "POSTURE_COLLECTOR": collector.apiURL,
                "POSTURE_TOKEN": reader, "POSTURE_CA": collector.caPath,
            ], timeout: 60)
        #expect(ctl.status == 0, "\(ctl.stderr)")
        #expect(ctl.stdout.contains("1 would change verdict"), "\(ctl.stdout)")
        #expect(ctl.stdout.contains("compliant → noncompliant: server-kernel fails"), "\(ctl.stdout)")

        // `limit` bounds the list, not the count.
        let limited = try json(try post(collector, candidate, token: reader, query: "?limit=0").body)
        #expect(limited["changed"] as? Int == 1)
        #expect((limited["changes"] as? [Any])?.isEmpty == true)

        // A broken candidate is refused with its line; a token without fleet:read is refused before parsing.
        let broken = try post(
            collector, inForce + "\n  - {name: x, check: rootEncrypted, sevrity: high}\n", token: reader)
        #expect(broken.status == 400)
        #expect(broken.body.contains("candidate policy:4: unknown key 'sevrity'"), "\(broken.body)")
        let unparsed = try post(collector, "rules: [", token: verdictReader)
        #expect(unparsed.status == 403, "\(unparsed.body)")
        #expect(unparsed.body.contains("fleet:read"), "\(unparsed.body)")

        // Nothing changed: the same verdicts under the same policy version.
        let verdictsAfter = try [laptop, server].map { try served(collector, $0, token: verdictReader) }
        #expect(verdictsAfter.map(\.status) == verdictsBefore.map(\.status))
        #expect(verdictsAfter.map(\.policy) == verdictsBefore.map(\.policy))

        // A revoked device is no longer one the policy applies to, online as offline.
        try collector.command(["devices", "revoke", laptop, "--reason", "left the company"])
        #expect(
            BackgroundProcess.eventually(timeout: 10) {
                (try? json(try post(collector, candidate, token: reader).body))?["devices"] as? Int == 1
            })
        #expect(
            try json(try collector.command(["policy", "diff", candidatePath, "--format", "json"]))["devices"] as? Int
                == 1)
    }

    @Test func policyTestRunsRecordedCasesAndFailsOnAMismatch() throws {
        let directory = try Paths.temporaryDirectory("e2e-policy-cases")
        let cases = directory.appendingPathComponent("cases")
        try FileManager.default.createDirectory(at: cases, withIntermediateDirectories: true)
        let policyPath = directory.appendingPathComponent("policy.yaml").path
        try candidate.write(toFile: policyPath, atomically: true, encoding: .utf8)
        // A real report of this host, as an operator records one.
        let report = try Shell.run([CollectorHarness.agentBinary, "probe", "--format", "json"]).stdout
        try report.write(to: directory.appendingPathComponent("host.json"), atomically: true, encoding: .utf8)
        func write(_ name: String, _ text: String) throws {
            try text.write(to: cases.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        try write(
            "laptop.yaml", "report: ../host.json\nlabels: {class: laptop}\nexpect: {status: compliant, failing: []}\n")
        try write(
            "server.yaml",
            "report: ../host.json\nlabels: {class: server}\nexpect: {status: noncompliant, failing: [server-kernel]}\n")
        let passing = try Shell.runAllowingFailure([
            CollectorHarness.collectorBinary, "policy", "test", policyPath, "--cases", cases.path,
        ])
        #expect(passing.status == 0, "\(passing.stdout)\(passing.stderr)")
        #expect(passing.stdout.contains("PASS laptop"))
        #expect(passing.stdout.contains("2 passed, 0 failed"), "\(passing.stdout)")

        // A case whose expectation the policy does not meet fails the run and says how.
        try write("wrong.yaml", "report: ../host.json\nlabels: {class: server}\nexpect: {status: compliant}\n")
        let failing = try Shell.runAllowingFailure([
            CollectorHarness.collectorBinary, "policy", "test", policyPath, "--cases", cases.path,
        ])
        #expect(failing.status == 1)
        #expect(failing.stdout.contains("FAIL wrong"), "\(failing.stdout)")
        #expect(failing.stdout.contains("status noncompliant, expected compliant"), "\(failing.stdout)")
        #expect(failing.stdout.contains("2 passed, 1 failed"), "\(failing.stdout)")

        // A typo in a case is an error naming its file and line, not a silently weaker test.
        try write("typo.yaml", "report: ../host.json\nexpect: {status: compliant}\nlables: {class: server}\n")
        let typo = try Shell.runAllowingFailure([
            CollectorHarness.collectorBinary, "policy", "test", policyPath, "--cases", cases.path,
        ])
        #expect(typo.status == 1)
        #expect(typo.stdout.contains("FAIL typo"), "\(typo.stdout)")
        #expect(typo.stdout.contains("typo.yaml:3: unknown key 'lables'"), "\(typo.stdout)")
        #expect(typo.stdout.contains("2 passed, 2 failed"), "\(typo.stdout)")
    }

    func served(_ collector: CollectorHarness, _ deviceID: String, token: String) throws -> (
        status: String?, policy: String?
    ) {
        let verdict =
            (try json(split(try curl(collector, "/v1/devices/\(deviceID)/verdict", token: token)).0))[
                "verdict"] as? [String: Any]
        return (verdict?["status"] as? String, verdict?["policyVersion"] as? String)
    }

    func post(_ collector: CollectorHarness, _ policy: String, token: String, query: String = "") throws -> (
        body: String, status: Int
    ) {
        let body = String(decoding: try JSONSerialization.data(withJSONObject: ["policy": policy]), as: UTF8.self)
        let (answer, status) = split(
            try curl(collector, "/v1/policy/preview" + query, token: token, extra: ["-X", "POST", "-d", body]))
        return (answer, status)
    }
}

extension CollectorHarness {
    /// An API token with these options (`--name`, `--scope`), as `apitoken create` prints it.
    func apiToken(_ options: [String]) throws -> String {
        try command(["apitoken", "create"] + options).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
