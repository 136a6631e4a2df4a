#if DEBUG
    import Foundation
    import PostureModel
    import PostureVerdict

    /// Policy YAML as an operator writes it (`policy check`, SIGHUP reload): parse, and evaluate what parses
    /// against the real report, which walks every rule kind the parser produced.
    enum PolicyTarget {
        static func run(_ input: [UInt8]) -> String {
            let text = String(decoding: input, as: UTF8.self)
            let policy: Policy
            do {
                policy = try PolicyParser.parse(text, file: "fuzz.yaml")
            } catch {
                return "refused: \(error.reason)"
            }
            let report = Fixtures.baseReport
            let signals = [SignalSample(at: Fixtures.now, counts: report.journal.value?.counts ?? [:])]
            let first = policy.evaluate(
                EvaluationInput(
                    deviceID: Fixtures.deviceID, labels: ["team": "web"], report: report, reportIssuedAt: Fixtures.now,
                    signals: signals, now: Fixtures.now.addingTimeInterval(1)))
            _ = policy.evaluate(
                EvaluationInput(
                    deviceID: Fixtures.deviceID, labels: ["team": "web"], report: report, reportIssuedAt: Fixtures.now,
                    signals: signals, previous: first, now: Fixtures.now.addingTimeInterval(7 * 86400)))
            for rule in policy.rules { _ = rule.check.kind }
            return "\(policy.rules.count) rules, verdict \(first.status.rawValue)"
        }
    }
#endif
