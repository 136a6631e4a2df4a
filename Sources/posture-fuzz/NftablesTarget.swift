#if DEBUG
    import Foundation
    import PostureModel
    @testable import PostureProbes

    /// libnftables' `list ruleset` JSON: the analysis, the reported ruleset, inbound filtering and frameworks,
    /// then the firewall facts in the terminal table.
    enum NftablesTarget {
        static func run(_ input: [UInt8]) -> String {
            guard let analysis = try? NftablesAnalysis(json: input) else { return "not libnftables JSON" }
            _ = analysis.ruleset
            _ = analysis.inputChainOutcomes()
            let facts = FirewallProbe.facts(nftables: .success(analysis), legacy: .success([]))
            var report = Fixtures.baseReport
            report.firewall = facts
            _ = ReportTable.render(report)
            return
                "\(analysis.chains.count) chains, inbound filtered \(facts.inboundFiltered.value.map { "\($0.ipv4)/\($0.ipv6)" } ?? "-")"
        }
    }
#endif
