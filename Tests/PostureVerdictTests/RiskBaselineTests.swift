import Foundation
import PostureModel
import Testing

@testable import PostureVerdict

/// Risk that adapts, from recorded signal series: a device judged against its own usual rate, a new device
/// against its peers', and a risk bound that makes an anomalous device non-compliant.
@Suite struct RiskBaselineTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let policyText = """
        risk:
          window: 1h
          baseline: {halfLife: 7d, margin: 5, floorPerHour: 2, points: 20}
          signals: {}
        rules:
          - {name: calm, check: maxRisk, max: 15, severity: high}
        """

    /// One sshAuthFailure every two hours for `days` before the window, then `burst` of them in it.
    func series(days: Int, burst: Int) -> [SignalSample] {
        var samples = stride(from: Double(days * 24), to: 1.5, by: -2).map {
            SignalSample(at: now.addingTimeInterval(-$0 * 3600), counts: [.sshAuthFailure: 1])
        }
        if burst > 0 {
            samples.append(SignalSample(at: now.addingTimeInterval(-600), counts: [.sshAuthFailure: burst]))
        }
        return samples
    }

    func verdict(
        _ samples: [SignalSample], enrolled: Date, fleet: [JournalEventCategory: Double] = [:],
        policy text: String? = nil
    ) throws -> Verdict {
        let policy = try PolicyParser.parse(text ?? policyText, file: "risk.yaml")
        let report = try PostureReport.makeDecoder().decode(
            PostureReport.self,
            from: Data(contentsOf: PolicyEvaluationTests.fixtures.appendingPathComponent("report.json")))
        var input = EvaluationInput(
            deviceID: "d", labels: ["team": "web"], report: report, reportIssuedAt: now, signals: samples, now: now)
        input.historySince = enrolled
        input.fleetRates = fleet
        return policy.evaluate(input)
    }

    @Test func aBurstFarAboveTheDevicesOwnRateRaisesRiskWithItsReason() throws {
        // Two weeks at 0.5/h (two half-lives: the fleet's 0.5/h fills the quarter before), then 40 in the hour.
        let burst = try verdict(
            series(days: 14, burst: 40), enrolled: now.addingTimeInterval(-14 * 86400), fleet: [.sshAuthFailure: 0.5])
        #expect(burst.riskReasons == ["+20 sshAuthFailure 40/h, baseline 0.5/h"], "\(burst.riskReasons)")
        #expect(burst.risk == 20)
        // The risk bound: 20 > 15 makes it non-compliant, and says why.
        #expect(burst.status == .noncompliant)
        #expect(burst.failing.first?.observed == "risk 20: +20 sshAuthFailure 40/h, baseline 0.5/h")
        // The bound's own severity does not add to what it measures.
        #expect(burst.riskReasons.count == 1)

        // The same device at its usual pace (one in the hour): nothing departs.
        let calm = try verdict(
            series(days: 14, burst: 1), enrolled: now.addingTimeInterval(-14 * 86400), fleet: [.sshAuthFailure: 0.5])
        #expect(calm.riskReasons.isEmpty && calm.risk == 0 && calm.status == .compliant)
    }

    @Test func aNoisyDeviceIsJudgedAgainstItsOwnNoise() throws {
        // A jump host: 30 failures an hour for two weeks; 40 in the window is its normal.
        var samples = stride(from: 336.0, to: 1.5, by: -1).map {
            SignalSample(at: now.addingTimeInterval(-$0 * 3600), counts: [.sshAuthFailure: 30])
        }
        samples.append(SignalSample(at: now.addingTimeInterval(-600), counts: [.sshAuthFailure: 40]))
        let verdict = try verdict(samples, enrolled: now.addingTimeInterval(-28 * 86400))
        #expect(verdict.riskReasons.isEmpty, "\(verdict.riskReasons)")
        // Five times its rate is not.
        samples[samples.count - 1] = SignalSample(at: now.addingTimeInterval(-600), counts: [.sshAuthFailure: 400])
        let departed = try self.verdict(samples, enrolled: now.addingTimeInterval(-28 * 86400))
        #expect(
            departed.riskReasons.first?.hasPrefix("+20 sshAuthFailure 400/h, baseline ") == true,
            "\(departed.riskReasons)")
    }

    @Test func aNewDeviceStartsFromItsPeersRate() throws {
        let enrolled = now.addingTimeInterval(-3600)
        let burst = [SignalSample(at: now.addingTimeInterval(-600), counts: [.sshAuthFailure: 20])]
        // Its peers have 10 an hour: 20 is within five times that.
        #expect(try verdict(burst, enrolled: enrolled, fleet: [.sshAuthFailure: 10]).riskReasons.isEmpty)
        // Peers that have none: 20 departs.
        #expect(
            try verdict(burst, enrolled: enrolled).riskReasons == ["+20 sshAuthFailure 20/h, baseline 0/h"])
        // Below the floor, one event is no anomaly.
        let one = [SignalSample(at: now.addingTimeInterval(-600), counts: [.sshAuthFailure: 2])]
        #expect(try verdict(one, enrolled: enrolled).riskReasons.isEmpty)
    }

    @Test func theFleetRateIsThePeersMeanOverDevicesWithEnoughHistory() {
        let baseline = RiskBaseline()
        let steady = series(days: 28, burst: 0)
        let rates = baseline.fleetRates(
            [
                (["team": "web"], steady, now.addingTimeInterval(-28 * 86400)),
                (["team": "web"], [], now.addingTimeInterval(-28 * 86400)),
                // Too new to count.
                (
                    ["team": "web"], [SignalSample(at: now, counts: [.sshAuthFailure: 500])],
                    now.addingTimeInterval(-3600)
                ),
                (["team": "db"], [], now.addingTimeInterval(-28 * 86400)),
            ], now: now)
        let web = rates.rates(for: ["team": "web"])[.sshAuthFailure] ?? 0
        // The median of 0.5/h and 0/h, each own rate made whole over four half-lives of history.
        #expect(abs(web - 0.25) < 0.01, "\(web)")
        #expect((rates.rates(for: ["team": "db"])[.sshAuthFailure] ?? 0) == 0)
        // Labels no device with history has: the whole fleet's median (0/h, 0/h, 0.5/h).
        #expect(rates.rates(for: ["team": "new"])[.sshAuthFailure] == nil)

        // One device reporting absurd counts does not set its peers' starting point.
        let poisoned = baseline.fleetRates(
            [
                (["team": "web"], steady, now.addingTimeInterval(-28 * 86400)),
                (["team": "web"], steady, now.addingTimeInterval(-28 * 86400)),
                (
                    ["team": "web"],
                    [SignalSample(at: now.addingTimeInterval(-86400), counts: [.sshAuthFailure: 1 << 40])],
                    now.addingTimeInterval(-28 * 86400)
                ),
            ], now: now)
        #expect(abs((poisoned.rates(for: ["team": "web"])[.sshAuthFailure] ?? 0) - 0.5) < 0.01)
    }

    @Test func withoutABaselineRiskIsFixedWeightsAsBefore() throws {
        let fixed = try verdict(
            series(days: 14, burst: 40), enrolled: now.addingTimeInterval(-14 * 86400),
            policy: "risk:\n  window: 1h\nrules:\n  - {name: r, check: rootEncrypted, whenUnavailable: pass}\n")
        #expect(fixed.riskReasons.allSatisfy { !$0.contains("baseline") }, "\(fixed.riskReasons)")
        #expect(
            try PolicyParser.parse("risk: {window: 1h}\nrules:\n  - {name: r, check: secureBoot}\n", file: "p")
                .signalWindow == .seconds(3600))
        let adaptive = try PolicyParser.parse(policyText, file: "p")
        #expect(adaptive.signalWindow == .seconds(28 * 86400))
    }

    @Test func brokenBaselineSettingsNameTheKey() {
        for (yaml, reason) in [
            ("risk: {baseline: {halfLife: 10m}}\nrules:\n  - {name: r, check: secureBoot}\n", "risk.baseline.halfLife"),
            ("risk: {baseline: {margin: 0.5}}\nrules:\n  - {name: r, check: secureBoot}\n", "risk.baseline.margin"),
            ("risk: {baseline: {spread: 1}}\nrules:\n  - {name: r, check: secureBoot}\n", "unknown key 'spread'"),
            ("rules:\n  - {name: r, check: maxRisk, max: 101}\n", "r.max"),
            ("rules:\n  - {name: r, check: maxRisk}\n", "needs max"),
        ] {
            do {
                _ = try PolicyParser.parse(yaml, file: "p.yaml")
                Issue.record("accepted: \(yaml)")
            } catch {
                #expect(error.reason.contains(reason), "\(error)")
            }
        }
    }
}
