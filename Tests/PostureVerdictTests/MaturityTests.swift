import Foundation
import PostureModel
import Testing

@testable import PostureVerdict

/// Each stage is reached when the one before is and its own evidence holds; what is missing names the fix.
@Suite struct MaturityTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// Everything optimal asks for.
    var best: MaturityEvidence {
        MaturityEvidence(
            reportIssuedAt: now.addingTimeInterval(-60), maxReportAge: .seconds(900),
            agent: AgentFacts(enforcement: "enforce", intervalSeconds: 60), keyProtection: .tpm,
            standingSudo: [], verdictPulledAt: now.addingTimeInterval(-3600), signalStream: false, now: now)
    }

    func assess(_ change: (inout MaturityEvidence) -> Void) -> MaturityAssessment {
        var evidence = best
        change(&evidence)
        return MaturityAssessment(evidence)
    }

    @Test func allTheEvidenceIsOptimal() {
        let assessment = MaturityAssessment(best)
        #expect(assessment == MaturityAssessment(stage: .optimal, next: nil, missing: []))
        // A Shared Signals stream reaches a policy engine as well as a pull.
        #expect(
            assess {
                $0.verdictPulledAt = nil
                $0.signalStream = true
            }.stage == .optimal)
    }

    @Test func noFreshReportIsTraditional() {
        let never = assess { $0.reportIssuedAt = nil }
        #expect(never.stage == .traditional && never.next == .initial)
        #expect(never.missing == ["a report (enroll the device and start postured)"])
        let stale = assess { $0.reportIssuedAt = now.addingTimeInterval(-7200) }
        #expect(
            stale.missing == [
                "a report within report.maxAge (15m): the newest is 2h old (is postured running and reaching the collector?)"
            ])
    }

    @Test func aSoftwareKeyOrAnAgentThatDoesNotEnforceIsInitial() {
        let software = assess { $0.keyProtection = .software }
        #expect(software.stage == .initial && software.next == .advanced)
        #expect(
            software.missing.count == 1
                && software.missing[0].contains("postured enroll --force --tpm device:/dev/tpmrm0"))
        let dryRun = assess {
            $0.keyProtection = .software
            $0.agent = AgentFacts(enforcement: "dry-run", intervalSeconds: 60)
        }
        #expect(dryRun.missing.count == 2)
        #expect(
            dryRun.missing[1]
                == "enforcement: the agent runs with enforcement.mode dry-run (set enforce in agent.yaml, or --enforce enforce in POSTURED_OPTIONS of /etc/default/postured)"
        )
        let old = assess { $0.agent = nil }
        #expect(
            old.stage == .initial
                && old.missing == ["enforcement: the agent does not say its mode (upgrade posture-agent)"])
    }

    @Test func optimalAsksForContinuousAttestationNoStandingPrivilegeAndAPolicyEngine() {
        let cases: [(String, (inout MaturityEvidence) -> Void)] = [
            (
                "continuous attestation: a report every 10m (set interval to 5m or less in agent.yaml)",
                { $0.agent = AgentFacts(enforcement: "enforce", intervalSeconds: 600) }
            ),
            (
                "no standing privileges: alice, deploy hold sudo by a sudoers rule (remove it and grant sudo just in time",
                { $0.standingSudo = ["alice", "deploy"] }
            ),
            ("no standing privileges: standing sudo is not reported", { $0.standingSudo = nil }),
            (
                "verdicts reaching a policy engine: none pulled this device's verdict in the last 24h (GET /v1/devices/ID/verdict",
                { $0.verdictPulledAt = now.addingTimeInterval(-90000) }
            ),
        ]
        for (missing, change) in cases {
            let assessment = assess(change)
            #expect(assessment.stage == .advanced && assessment.next == .optimal, "\(missing)")
            #expect(assessment.missing.count == 1 && assessment.missing[0].hasPrefix(missing), "\(assessment.missing)")
        }
    }

    @Test func theStageAloneIsTheAssessmentsStage() {
        let variations: [(inout MaturityEvidence) -> Void] = [
            { _ in }, { $0.reportIssuedAt = nil }, { $0.keyProtection = .software }, { $0.agent = nil },
            { $0.standingSudo = ["alice"] }, { $0.verdictPulledAt = nil },
        ]
        for change in variations {
            var evidence = best
            change(&evidence)
            #expect(MaturityAssessment.stage(evidence) == MaturityAssessment(evidence).stage)
        }
    }

    @Test func stagesAreCumulative() {
        // Optimal's evidence without advanced's is still initial: a stage needs the ones below it.
        let assessment = assess { $0.keyProtection = .software }
        #expect(assessment.stage == .initial)
        #expect(MaturityStage.allCases.sorted() == [.traditional, .initial, .advanced, .optimal])
    }
}
