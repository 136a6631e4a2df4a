import PostureLinux
import PostureModel

/// Firewall state from the kernel of this network namespace: the nftables ruleset through libnftables,
/// iptables-legacy tables through x_tables, and whether new inbound traffic is dropped by default.
/// The kernel's state is read even under a fixture `--root`: it does not live in files.
public struct FirewallProbe: Probe {
    static let nftSource = "libnftables: list ruleset"
    static let legacySource = "x_tables getsockopt, /proc/net/ip_tables_names"

    public init() {}

    public func collect(in context: ProbeContext) -> FirewallFacts {
        let analysis: Result<NftablesAnalysis, any Error> = Result {
            try NftablesAnalysis(json: NftablesReader.rulesetJSON())
        }
        let legacy: Result<[LegacyTable], any Error> = Result { try LegacyIptablesReader.tables() }
        return Self.facts(nftables: analysis, legacy: legacy)
    }

    static func facts(
        nftables: Result<NftablesAnalysis, any Error>, legacy: Result<[LegacyTable], any Error>
    ) -> FirewallFacts {
        let nftFact: Fact<NftablesRuleset> = .reading(nftSource) { try nftables.get().ruleset }
        let legacyFact: Fact<LegacyIptables> = .reading(legacySource) {
            LegacyIptables(tables: try legacy.get())
        }
        let combined = "\(nftSource); \(legacySource)"
        let inbound: Fact<InboundFiltering> = .reading(combined) {
            try inboundFiltering(nftables.get(), legacy: legacy.get())
        }
        let frameworks: Fact<[String]> = .reading(combined) {
            try activeFrameworks(nftables.get(), legacy: legacy.get())
        }
        return FirewallFacts(
            nftables: nftFact, iptablesLegacy: legacyFact, inboundFiltered: inbound, activeFrameworks: frameworks)
    }

    static func inboundFiltering(_ analysis: NftablesAnalysis, legacy: [LegacyTable]) -> InboundFiltering {
        var byFamily: [String: Bool] = ["ip": false, "ip6": false, "inet": false]
        var evidence: [String] = []
        // A drop in any base chain on the input hook is final, whatever other chains accept.
        for (chain, outcome) in analysis.inputChainOutcomes() where byFamily[chain.family] != nil {
            if case .drops(let why) = outcome {
                byFamily[chain.family] = true
                evidence.append("nftables \(chain.family) \(chain.table) \(chain.summary.name): \(why)")
            }
        }
        var legacyV4 = false
        var legacyV6 = false
        for table in legacy where table.name == "filter" && table.policies["INPUT"] == "DROP" {
            if table.family == "ipv4" { legacyV4 = true } else { legacyV6 = true }
            evidence.append("iptables-legacy \(table.family) filter INPUT: policy DROP")
        }
        return InboundFiltering(
            ipv4: byFamily["ip"] == true || byFamily["inet"] == true || legacyV4,
            ipv6: byFamily["ip6"] == true || byFamily["inet"] == true || legacyV6,
            byFamily: byFamily, evidence: evidence)
    }

    /// Names the tools whose state is in the kernel. Tables that iptables-nft creates are recognised by
    /// its upper-case built-in chain names or its `xt` expressions; any other table is native nftables.
    static func activeFrameworks(_ analysis: NftablesAnalysis, legacy: [LegacyTable]) -> [String] {
        let iptablesChains: Set<String> = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"]
        let iptablesNftTables = Set(
            analysis.chains.filter { iptablesChains.contains($0.summary.name) }.map { "\($0.family) \($0.table)" })
        var frameworks: [String] = []
        if analysis.tableOrder.contains(where: { $0.name == "firewalld" }) { frameworks.append("firewalld") }
        if analysis.chains.contains(where: { $0.summary.name.hasPrefix("ufw-") || $0.summary.name.hasPrefix("ufw6-") })
        {
            frameworks.append("ufw")
        }
        if analysis.usesXtables || !iptablesNftTables.isEmpty { frameworks.append("iptables-nft") }
        if analysis.tableOrder.contains(where: { !iptablesNftTables.contains("\($0.family) \($0.name)") }) {
            frameworks.append("nftables")
        }
        if LegacyIptables(tables: legacy).hasRules { frameworks.append("iptables-legacy") }
        return frameworks
    }
}
