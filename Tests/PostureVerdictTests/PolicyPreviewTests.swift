import Foundation
import PostureModel
import PostureVerdict
import Testing

/// `PolicyPreview.compare` over a fleet made from a recorded report: what changes, the counts, the order.
@Suite struct PolicyPreviewTests {
    let report: PostureReport
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    init() throws {
        report = try PostureReport.makeDecoder().decode(
            PostureReport.self,
            from: Data(contentsOf: PolicyEvaluationTests.fixtures.appendingPathComponent("report.json")))
    }

    /// Devices on Debian 11 or 12, servers or laptops; one never reported; one quarantined.
    func fleet() -> [EvaluationInput] {
        (0..<40).map { index in
            var facts = report
            facts.os.osRelease = .observed(
                ["ID": "debian", "VERSION_ID": index % 4 == 0 ? "11" : "12"], source: "test")
            return EvaluationInput(
                deviceID: String(format: "d%02d", index), labels: ["class": index % 2 == 0 ? "server" : "laptop"],
                report: index == 39 ? nil : facts, reportIssuedAt: index == 39 ? nil : t0,
                quarantine: index == 38 ? Quarantine(by: "test", reason: "stolen", at: t0) : nil, now: t0)
        }
    }

    @Test func aCandidateNamesWhomItCutsOffAndWhy() async throws {
        let current = try PolicyParser.parse(
            "rules:\n  - {name: os, check: osVersion, minimum: {debian: \"11\"}}\n", file: "current.yaml")
        let candidate = try PolicyParser.parse(
            """
            rules:
              - {name: os, check: osVersion, minimum: {debian: "12"}}
              - {name: never-fails, check: osVersion, minimum: {debian: "1"}}
            """, file: "candidate.yaml")
        let preview = await PolicyPreview.compare(
            current: current, candidate: candidate, inputs: fleet(), limit: 3, now: t0)
        // Debian 11: indexes 0, 4, …, 36 (10 devices); 39 has no report (unknown under both); 38 is
        // quarantined (noncompliant under both), and 36 is not it.
        #expect(preview.devices == 40)
        #expect(preview.changed == 10)
        #expect(preview.transitions == [.init(from: .compliant, to: .noncompliant, devices: 10)])
        #expect(preview.changes.count == 3)
        #expect(preview.changes.map(\.deviceID) == ["d00", "d04", "d08"])
        let first = try #require(preview.changes.first)
        #expect(first.newlyFailing.map(\.rule) == ["os"])
        #expect(first.newlyFailing.first?.observed == "debian 11")
        let counts = Dictionary(uniqueKeysWithValues: preview.rules.map { ($0.rule, $0) })
        #expect(counts["os"]?.failingNow == 0)
        #expect(counts["os"]?.failingCandidate == 10)
        // A rule that fails nowhere is listed, and so is the report's age (one device never reported).
        #expect(counts["never-fails"]?.failingCandidate == 0)
        #expect(counts["report-age"]?.unknownNow == 1)
        #expect(counts["report-age"]?.unknownCandidate == 1)
    }

    @Test func theSamePolicyChangesNothingAndLabelsScopeRules() async throws {
        let current = try PolicyParser.parse(
            "rules:\n  - {name: os, check: osVersion, minimum: {debian: \"11\"}}\n", file: "current.yaml")
        let same = await PolicyPreview.compare(current: current, candidate: current, inputs: fleet(), now: t0)
        #expect(same.changed == 0)
        #expect(same.changes.isEmpty)
        let servers = try PolicyParser.parse(
            """
            rules:
              - {name: os, check: osVersion, minimum: {debian: "11"}}
              - {name: servers-on-12, check: osVersion, minimum: {debian: "12"}, labels: {class: server}}
            """, file: "servers.yaml")
        let preview = await PolicyPreview.compare(current: current, candidate: servers, inputs: fleet(), now: t0)
        // Debian 11 devices are all even indexes, so all servers: the ten of them.
        #expect(preview.changed == 10)
        #expect(preview.changes.allSatisfy { Int($0.deviceID.dropFirst())! % 2 == 0 })
        // A grace period excuses the rule for now: nobody is cut off yet.
        let graced = try PolicyParser.parse(
            """
            rules:
              - {name: os, check: osVersion, minimum: {debian: "12"}, grace: 72h}
            """, file: "graced.yaml")
        let inGrace = await PolicyPreview.compare(current: current, candidate: graced, inputs: fleet(), now: t0)
        #expect(inGrace.changed == 0)
        // …and says whom it will cut off when the grace ends.
        let os = try #require(inGrace.rules.first { $0.rule == "os" })
        #expect(os.failingCandidate == 0)
        #expect(os.excusedCandidate == 10)
        #expect(os.excusedNow == 0)
        #expect(inGrace.lines.contains { $0.contains("0 (0) → 0 (0) [10]  *") }, "\(inGrace.lines)")
    }
}
