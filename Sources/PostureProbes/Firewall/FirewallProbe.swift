import PostureLinux
import PostureModel

/// Firewall state from the kernel of this network namespace: the nftables ruleset through libnftables,
/// iptables-legacy tables through x_tables, and whether new inbound traffic is dropped by default.
/// The kernel's state is read even under a fixture `--root`: it does not live in files. Only
/// iptables-nft-save, run for the states of iptables-nft conntrack matches, is not run under one.
public struct FirewallProbe: Probe {
    static let nftSource = "libnftables: list ruleset"
    static let legacySource = "x_tables getsockopt, /proc/net/ip_tables_names"

    public init() {}

    public func collect(in context: ProbeContext) -> FirewallFacts {
        let analysis: Result<NftablesAnalysis, any Error> = Result {
            var analysis = try NftablesAnalysis(json: NftablesReader.rulesetJSON())
            // iptables-nft's conntrack and state matches are opaque in JSON; its save text tells their states.
            analysis.readStateMatches(from: IptablesNftSave(root: context.root))
            return analysis
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
        var evidence: [String] = []
        // A drop in any base chain on the input hook is final, whatever other chains accept.
        var filtered: [String: Set<IPFamily>] = [:]
        var reasons: [(chain: NftablesAnalysis.Chain, family: IPFamily, why: String)] = []
        for (chain, family, outcome) in analysis.inputChainOutcomes() {
            if case .drops(let why) = outcome {
                filtered[chain.family, default: []].insert(family)
                reasons.append((chain, family, why))
            }
        }
        for (index, reason) in reasons.enumerated() {
            let chain = reason.chain
            let name = "nftables \(chain.family) \(chain.table) \(chain.summary.name)"
            // An inet chain that drops both families for the same reason is named once.
            let twin = reasons.indices.first {
                $0 != index && reasons[$0].chain.family == chain.family && reasons[$0].chain.table == chain.table
                    && reasons[$0].chain.summary.name == chain.summary.name && reasons[$0].why == reason.why
            }
            if let twin, twin < index { continue }
            let family = chain.family == "inet" && twin == nil ? " (\(reason.family.rawValue) only)" : ""
            evidence.append("\(name)\(family): \(reason.why)")
        }
        let byFamily: [String: Bool] = [
            "ip": filtered["ip"]?.contains(.ipv4) == true, "ip6": filtered["ip6"]?.contains(.ipv6) == true,
            "inet": filtered["inet"]?.count == 2,
        ]
        let inet = filtered["inet"] ?? []
        var legacyV4 = false
        var legacyV6 = false
        for table in legacy where table.name == "filter" && table.policies["INPUT"] == "DROP" {
            if table.family == "ipv4" { legacyV4 = true } else { legacyV6 = true }
            evidence.append("iptables-legacy \(table.family) filter INPUT: policy DROP")
        }
        return InboundFiltering(
            ipv4: byFamily["ip"] == true || inet.contains(.ipv4) || legacyV4,
            ipv6: byFamily["ip6"] == true || inet.contains(.ipv6) || legacyV6,
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
