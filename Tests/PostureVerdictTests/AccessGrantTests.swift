import Foundation
import PostureModel
import PostureVerdict
import Testing

/// Grants in the policy file: parsed strictly, and decided by who asks, from which device, in which state.
@Suite struct AccessGrantTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    let yaml = """
        rules:
          - {name: a, check: rootEncrypted}
        access:
          grants:
            - name: ops-ssh
              groups: [ops]
              users: [carol]
              deviceLabels: {class: laptop}
              ssh: {principals: ["${user}", deploy]}
              maxDuration: 15m
              maxRisk: 30
            - name: db-sudo
              users: [alice]
              sudo: {commands: [/usr/bin/systemctl restart postgresql]}
              maxDuration: 1h
              approval: operator
        """

    func verdict(_ status: ComplianceStatus, risk: Int = 0, changesIn: TimeInterval? = 3600) -> Verdict {
        Verdict(
            deviceID: "d", status: status, failing: [], unknown: [], excused: [], risk: risk, riskReasons: [],
            quarantine: nil, reportIssuedAt: now, evaluatedAt: now, validUntil: now + 300, policyVersion: "p",
            reevaluateAt: changesIn.map { now + $0 })
    }

    func decide(
        _ policy: Policy, _ grant: String = "ops-ssh", user: String = "alice", groups: [String] = ["ops"],
        labels: [String: String] = ["class": "laptop"], verdict: Verdict? = nil, requested: Duration? = nil
    ) throws(AccessRefusal) -> (grant: AccessGrant, principals: [String], until: Date) {
        try policy.sshGrant(
            grant, user: user, groups: groups, deviceLabels: labels, verdict: verdict ?? self.verdict(.compliant),
            requested: requested, now: now)
    }

    func refusal(_ body: () throws -> Void) -> AccessRefusal.Code? {
        do {
            try body()
            return nil
        } catch {
            return (error as? AccessRefusal)?.code
        }
    }

    @Test func theShippedPolicysGrantParses() throws {
        let shipped = try PolicyParser.load(path: PolicyEvaluationTests.shippedPolicy.path)
        #expect(shipped.grants.map(\.name) == ["ops-ssh", "ops-sudo"])
        #expect(shipped.grants.last?.sudoCommands == ["ALL"] && shipped.grants.last?.approval == .operator)
        #expect(shipped.grants.first?.sshPrincipals == ["${user}"])
    }

    @Test func aCompliantMembersCertificateNamesThemAndEndsAtTheShortestBound() throws {
        let policy = try PolicyParser.parse(yaml, file: "p.yaml")
        let decided = try decide(policy)
        #expect(decided.principals == ["alice", "deploy"])
        #expect(decided.until == now + 900, "the grant's 15 minutes")
        #expect(try decide(policy, requested: .seconds(60)).until == now + 60, "a shorter request")
        #expect(try decide(policy, requested: .seconds(7200)).until == now + 900, "never longer than the grant")
        #expect(
            try decide(policy, verdict: verdict(.compliant, changesIn: 120)).until == now + 120,
            "never past the verdict's own change")
        #expect(try decide(policy, user: "carol", groups: []).principals == ["carol", "deploy"], "named user")
    }

    @Test func eachConditionRefusesWithItsOwnReason() throws {
        let policy = try PolicyParser.parse(yaml, file: "p.yaml")
        #expect(refusal { _ = try decide(policy, "nope") } == .unknownGrant)
        #expect(refusal { _ = try decide(policy, user: "mallory", groups: ["staff"]) } == .notAdmitted)
        #expect(refusal { _ = try decide(policy, labels: ["class": "server"]) } == .notAdmitted)
        #expect(refusal { _ = try decide(policy, verdict: verdict(.noncompliant)) } == .notCompliant)
        #expect(refusal { _ = try decide(policy, verdict: verdict(.unknown)) } == .notCompliant)
        #expect(refusal { _ = try decide(policy, verdict: verdict(.compliant, risk: 31)) } == .riskTooHigh)
        #expect(refusal { _ = try decide(policy, "db-sudo", groups: []) } == .noSSH)
        #expect(refusal { _ = try decide(policy, requested: .zero) } == .badRequest)
        #expect(refusal { _ = try decide(policy, requested: .milliseconds(999)) } == .badRequest)
        #expect(refusal { _ = try decide(policy, verdict: verdict(.compliant, changesIn: 0.5)) } == .notCompliant)
    }

    @Test func sudoIsDecidedByTheSameConditionsAndCheckedAgainAtApproval() throws {
        let policy = try PolicyParser.parse(yaml, file: "p.yaml")
        func sudo(
            _ grant: String = "db-sudo", user: String = "alice", verdict: Verdict? = nil, requested: Duration? = nil
        ) throws(AccessRefusal) -> (grant: AccessGrant, commands: [String], lifetime: Duration) {
            try policy.sudoGrant(
                grant, user: user, groups: [], deviceLabels: ["class": "laptop"],
                verdict: verdict ?? self.verdict(.compliant),
                requested: requested)
        }
        let decided = try sudo()
        #expect(decided.commands == ["/usr/bin/systemctl restart postgresql"])
        #expect(decided.lifetime == .seconds(3600) && decided.grant.approval == .operator)
        #expect(try sudo(requested: .seconds(1800)).lifetime == .seconds(1800))
        #expect(try sudo(requested: .seconds(7200)).lifetime == .seconds(3600), "never longer than the grant")
        #expect(refusal { _ = try sudo("ops-ssh", user: "carol") } == .noSudo)
        #expect(refusal { _ = try sudo(user: "mallory") } == .notAdmitted)
        #expect(refusal { _ = try sudo(verdict: verdict(.noncompliant)) } == .notCompliant)
        #expect(refusal { _ = try sudo(requested: .zero) } == .badRequest)
        // At approval: the device must still be compliant, and the grant still give sudo.
        #expect(try policy.sudoApproval("db-sudo", verdict: verdict(.compliant)).name == "db-sudo")
        #expect(refusal { _ = try policy.sudoApproval("db-sudo", verdict: verdict(.noncompliant)) } == .notCompliant)
        #expect(refusal { _ = try policy.sudoApproval("ops-ssh", verdict: verdict(.compliant)) } == .noSudo)
        #expect(refusal { _ = try policy.sudoApproval("gone", verdict: verdict(.compliant)) } == .unknownGrant)
    }

    @Test func brokenGrantsNameTheLineAndTheFix() {
        let head = "rules:\n  - {name: a, check: rootEncrypted}\naccess:\n  grants:\n"
        let cases: [(String, Int, String)] = [
            ("    - {name: g, users: [a], ssh: {principals: [a]}}\n", 5, "needs maxDuration"),
            ("    - {name: g, users: [a], ssh: {principals: [a]}, maxDuration: 8d}\n", 5, "at most 7d"),
            ("    - {name: g, ssh: {principals: [a]}, maxDuration: 1h}\n", 5, "needs users: or groups:"),
            ("    - {name: g, users: [a], maxDuration: 1h}\n", 5, "gives nothing"),
            ("    - {name: g, users: [a], ssh: {principals: [\"a b\"]}, maxDuration: 1h}\n", 5, "not a user name"),
            ("    - {name: g, users: [a], sudo: {commands: [reboot]}, maxDuration: 1h}\n", 5, "absolute path"),
            ("    - {name: g, users: [a], sudo: {commands: [\"/bin/x, ALL\"]}, maxDuration: 1h}\n", 5, "absolute path"),
            (
                "    - {name: g, users: [a], ssh: {principals: [a]}, maxDuration: 1h, approval: maybe}\n", 5,
                "not one of"
            ),
            ("    - {name: g, users: [a], ssh: {principals: [a]}, maxDuration: 1h, maxRisk: 101}\n", 5, "0 to 100"),
            ("    - {name: \"a b\", users: [a], ssh: {principals: [a]}, maxDuration: 1h}\n", 5, "needs name:"),
            ("    - {name: g, users: [a], ssh: {principals: [a]}, maxDuration: 1h, sudoers: x}\n", 5, "unknown key"),
            (
                "    - {name: g, users: [a], ssh: {principals: [a]}, maxDuration: 1h}\n"
                    + "    - {name: g, users: [b], ssh: {principals: [b]}, maxDuration: 1h}\n", 6, "used twice"
            ),
        ]
        for (grants, line, reason) in cases {
            do {
                _ = try PolicyParser.parse(head + grants, file: "p.yaml")
                Issue.record("accepted: \(grants)")
            } catch {
                #expect(error.line == line, "\(grants): \(error)")
                #expect(error.reason.contains(reason), "\(error)")
            }
        }
    }
}
