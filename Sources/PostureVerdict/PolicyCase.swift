import PostureModel
import Yams

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A unit test of a policy: a recorded report, the device's labels and key, and the verdict expected of it.
/// `posture-collector policy test POLICY --cases DIR` runs every `*.yaml` case of a folder, so a pipeline that
/// manages policy as code fails before a change reaches the fleet. A case file:
///
///     report: reports/laptop.json      # as `postured probe --format json` writes it; relative to the case
///     labels: {class: laptop}          # optional
///     keyProtection: software          # optional: software (default) or tpm
///     expect:
///       status: noncompliant           # compliant, noncompliant or unknown
///       failing: [root-encrypted]      # optional: exactly these rules fail
///       unknown: []                    # optional: exactly these rules are unknown
///
/// The report is evaluated at the time it was collected, so a recorded report never goes stale. A `tpm`
/// case has its measured boot from the report's PCRs and event log but no enrollment baseline, so a
/// `measuredBoot` rule without `reference` values cannot pass in a case.
public struct PolicyCase: Sendable {
    public var name: String
    public var report: PostureReport
    public var labels: [String: String]
    public var keyProtection: KeyProtection
    public var status: ComplianceStatus
    public var failing: Set<String>?
    public var unknown: Set<String>?

    /// Reads a case file and the report it names; errors name the file, the line and the fix.
    public static func load(path: String) throws(PolicyError) -> PolicyCase {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PolicyError(file: path, line: nil, reason: "cannot read the case file")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: String(decoding: data, as: UTF8.self))
        } catch {
            throw PolicyError(file: path, line: nil, reason: "not valid YAML: \(error)")
        }
        guard let root else {
            throw PolicyError(file: path, line: nil, reason: "the case is empty; it needs report: and expect:")
        }
        let reader = PolicyParser.Reader(file: path)
        let top = try reader.mapping(root, "the case", keys: ["report", "labels", "keyProtection", "expect"])
        guard let reportNode = top["report"], let reportPath = reportNode.string else {
            throw PolicyError(file: path, line: root.mark?.line, reason: "the case needs report: PATH (a report file)")
        }
        guard let expectNode = top["expect"] else {
            throw PolicyError(file: path, line: root.mark?.line, reason: "the case needs expect: {status: …}")
        }
        let expect = try reader.mapping(expectNode, "expect", keys: ["status", "failing", "unknown"])
        guard let statusNode = expect["status"] else {
            throw reader.fail(expectNode, "expect needs status: compliant, noncompliant or unknown")
        }
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let file = reportPath.hasPrefix("/") ? reportPath : directory + "/" + reportPath
        guard let reportData = FileManager.default.contents(atPath: file) else {
            throw reader.fail(reportNode, "cannot read report \(file); record one with postured probe --format json")
        }
        let report: PostureReport
        do {
            report = try PostureReport.makeDecoder().decode(PostureReport.self, from: reportData)
        } catch {
            throw reader.fail(reportNode, "\(file) is not a report as postured probe --format json writes it: \(error)")
        }
        return PolicyCase(
            name: String(path.split(separator: "/").last ?? "").replacingOccurrences(of: ".yaml", with: ""),
            report: report,
            labels: try top["labels"].map { node throws(PolicyError) in try reader.stringMap(node, "labels") } ?? [:],
            keyProtection: try top["keyProtection"].map { node throws(PolicyError) in
                try reader.choice(node, "keyProtection", KeyProtection.allCases)
            } ?? .software,
            status: try reader.choice(
                statusNode, "expect.status", [ComplianceStatus.compliant, .noncompliant, .unknown]),
            failing: try expect["failing"].map { node throws(PolicyError) in
                Set(try reader.strings(node, "expect.failing"))
            },
            unknown: try expect["unknown"].map { node throws(PolicyError) in
                Set(try reader.strings(node, "expect.unknown"))
            })
    }

    /// The verdict the policy gives this case, at the time its report was collected.
    public func evaluate(_ policy: Policy) -> Verdict {
        let at = report.collectedAt
        return policy.evaluate(
            EvaluationInput(
                deviceID: name, labels: labels, report: report, reportIssuedAt: at,
                signals: [SignalSample(at: at, counts: report.journal.value?.counts ?? [:])],
                keyProtection: keyProtection,
                boot: keyProtection == .tpm
                    ? BootEvidence(measured: MeasuredBoot(reported: report), baseline: nil) : nil,
                now: at))
    }

    /// What differs from the expectation, one line each; empty when the case passes.
    public func mismatches(_ verdict: Verdict) -> [String] {
        var problems: [String] = []
        if verdict.status != status {
            problems.append("status \(verdict.status.rawValue), expected \(status.rawValue)")
        }
        func compare(_ what: String, _ expected: Set<String>?, _ outcomes: [RuleOutcome]) {
            guard let expected else { return }
            let actual = Set(outcomes.map(\.rule))
            for rule in actual.subtracting(expected).sorted() {
                let outcome = outcomes.first { $0.rule == rule }
                problems.append("\(rule) is \(what) (observed \(outcome?.observed ?? "?")), not expected")
            }
            for rule in expected.subtracting(actual).sorted() { problems.append("\(rule) expected \(what), is not") }
        }
        compare("failing", failing, verdict.failing)
        compare("unknown", unknown, verdict.unknown)
        return problems
    }
}
