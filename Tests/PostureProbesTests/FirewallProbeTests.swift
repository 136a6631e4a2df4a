import Foundation
import PostureLinux
import PostureModel
import TestSupport
import Testing

@testable import PostureProbes

/// Real rulesets, loaded with `nft -f` (and iptables) into a network namespace made for each test, read
/// by the probe from a thread inside that namespace.
@Suite(.serialized, Requirement.available(programs: ["ip", "nft", "iptables-nft", "iptables-legacy"], root: true))
struct FirewallProbeTests {
    private func probe(in namespace: NetworkNamespace) throws -> FirewallFacts {
        try namespace.run { FirewallProbe().collect(in: ProbeContext(now: Date())) }
    }

    @Test func inputPolicyDropFiltersBothFamilies() throws {
        let namespace = try NetworkNamespace(label: "fw-drop")
        try namespace.loadNftables(
            """
            table inet filter {
              chain input {
                type filter hook input priority 0; policy drop;
                ct state established,related accept
                iif "lo" accept
                tcp dport 22 accept
              }
              chain forward { type filter hook forward priority 0; policy drop; }
            }
            """)
        let facts = try probe(in: namespace)
        let inbound = try #require(facts.inboundFiltered.value)
        #expect(inbound.ipv4 && inbound.ipv6)
        #expect(inbound.byFamily == ["inet": true, "ip": false, "ip6": false])
        let table = try #require(facts.nftables.value?.tables.first)
        #expect(table.family == "inet" && table.name == "filter")
        let input = try #require(table.chains.first { $0.name == "input" })
        #expect(
            input == NftChain(name: "input", type: "filter", hook: "input", priority: 0, policy: "drop", ruleCount: 3))
        #expect(facts.activeFrameworks.value == ["nftables"])
        try expectRuleCountsMatchNftCLI(facts, namespace)
    }

    @Test func acceptAllIsNotFiltered() throws {
        let namespace = try NetworkNamespace(label: "fw-acceptall")
        // policy drop, but the first rule accepts everything: nothing is ever dropped.
        try namespace.loadNftables(
            """
            table ip filter {
              chain input { type filter hook input priority 0; policy drop; counter accept; }
            }
            table ip6 filter {
              chain input { type filter hook input priority 0; policy accept; }
            }
            """)
        let inbound = try #require(try probe(in: namespace).inboundFiltered.value)
        #expect(!inbound.ipv4 && !inbound.ipv6)
        #expect(inbound.evidence.isEmpty)
    }

    @Test func finalDropRuleFiltersOnlyItsFamily() throws {
        let namespace = try NetworkNamespace(label: "fw-final")
        try namespace.loadNftables(
            """
            table ip filter {
              chain input {
                type filter hook input priority 10; policy accept;
                ct state established,related accept
                tcp dport { 22, 443 } accept
                tcp dport 80 drop
                counter reject with icmp type port-unreachable
              }
            }
            """)
        let facts = try probe(in: namespace)
        let inbound = try #require(facts.inboundFiltered.value)
        #expect(inbound.ipv4 && !inbound.ipv6)
        #expect(inbound.evidence == ["nftables ip filter input: rule 4: unconditional reject"])
        #expect(facts.nftables.value?.tables.first?.chains.first?.priority == 10)
    }

    @Test func conditionalDropIsNotADefaultDrop() throws {
        let namespace = try NetworkNamespace(label: "fw-cond")
        try namespace.loadNftables(
            """
            table inet filter {
              chain input { type filter hook input priority 0; policy accept; tcp dport 23 drop; ct state invalid drop; }
            }
            """)
        let inbound = try #require(try probe(in: namespace).inboundFiltered.value)
        #expect(!inbound.ipv4 && !inbound.ipv6)
    }

    @Test func newConnectionsDroppedThroughJumpCount() throws {
        let namespace = try NetworkNamespace(label: "fw-jump")
        try namespace.loadNftables(
            """
            table inet filter {
              chain input { type filter hook input priority 0; policy accept; ct state established accept; jump deny; }
              chain deny { ct state new counter drop; }
            }
            """)
        let inbound = try #require(try probe(in: namespace).inboundFiltered.value)
        #expect(inbound.ipv4 && inbound.ipv6)
        #expect(inbound.evidence.first?.contains("unconditional drop") == true)
    }

    @Test func iptablesNftRulesAreReadAsNftables() throws {
        let namespace = try NetworkNamespace(label: "fw-ipt-nft")
        // Opaque in libnftables JSON; iptables-nft-save tells its states (FirewallExceptionTests).
        try namespace.exec([
            "iptables-nft", "-A", "INPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED", "-j", "ACCEPT",
        ])
        try namespace.exec(["iptables-nft", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"])
        try namespace.exec(["iptables-nft", "-P", "INPUT", "DROP"])
        let facts = try probe(in: namespace)
        let inbound = try #require(facts.inboundFiltered.value)
        #expect(inbound.ipv4 && !inbound.ipv6)
        #expect(facts.activeFrameworks.value?.contains("iptables-nft") == true)
        let input = facts.nftables.value?.tables.first { $0.family == "ip" && $0.name == "filter" }?
            .chains.first { $0.name == "INPUT" }
        #expect(input?.policy == "drop" && input?.ruleCount == 2 && input?.hook == "input")
        #expect(facts.iptablesLegacy.value?.hasRules == false)
        try expectRuleCountsMatchNftCLI(facts, namespace)
    }

    @Test func iptablesLegacyPolicyAndRulesAreSeen() throws {
        let namespace = try NetworkNamespace(label: "fw-legacy")
        try namespace.exec(["iptables-legacy", "-N", "posture-test"])
        try namespace.exec(["iptables-legacy", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"])
        try namespace.exec(["iptables-legacy", "-A", "INPUT", "-j", "posture-test"])
        try namespace.exec(["iptables-legacy", "-A", "posture-test", "-p", "udp", "-j", "ACCEPT"])
        try namespace.exec(["iptables-legacy", "-P", "INPUT", "DROP"])
        let facts = try probe(in: namespace)
        let legacy = try #require(facts.iptablesLegacy.value)
        let filter = try #require(legacy.tables.first { $0.family == "ipv4" && $0.name == "filter" })
        #expect(filter.policies == ["INPUT": "DROP", "FORWARD": "ACCEPT", "OUTPUT": "ACCEPT"])
        #expect(filter.ruleCount == 3 && filter.userChains == 1)
        #expect(legacy.hasRules)
        let inbound = try #require(facts.inboundFiltered.value)
        #expect(inbound.ipv4 && !inbound.ipv6)
        #expect(facts.activeFrameworks.value == ["iptables-legacy"])
        // The legacy rules are invisible to nftables, as they are to `nft list ruleset`.
        #expect(facts.nftables.value?.tables.isEmpty == true)
    }

    @Test func emptyRulesetFiltersNothing() throws {
        let namespace = try NetworkNamespace(label: "fw-empty")
        let facts = try probe(in: namespace)
        #expect(facts.nftables.value == NftablesRuleset(tables: []))
        #expect(
            facts.inboundFiltered.value
                == InboundFiltering(
                    ipv4: false, ipv6: false, byFamily: ["ip": false, "ip6": false, "inet": false], evidence: []))
        #expect(facts.activeFrameworks.value == [])
        #expect(facts.iptablesLegacy.value?.hasRules == false)
    }

    /// The chain rule counts must equal what `nft -j list ruleset` itself reports.
    private func expectRuleCountsMatchNftCLI(_ facts: FirewallFacts, _ namespace: NetworkNamespace) throws {
        let output = try namespace.exec(["nft", "-j", "list", "ruleset"]).stdout
        let json = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
        let items = json?["nftables"] as? [[String: Any]] ?? []
        var counts: [String: Int] = [:]
        for item in items {
            if let chain = item["chain"] as? [String: Any] {
                counts["\(chain["family"]!) \(chain["table"]!) \(chain["name"]!)", default: 0] += 0
            }
            if let rule = item["rule"] as? [String: Any] {
                counts["\(rule["family"]!) \(rule["table"]!) \(rule["chain"]!)", default: 0] += 1
            }
        }
        var probed: [String: Int] = [:]
        for table in facts.nftables.value?.tables ?? [] {
            for chain in table.chains { probed["\(table.family) \(table.name) \(chain.name)"] = chain.ruleCount }
        }
        #expect(probed == counts)
        #expect(!counts.isEmpty)
    }
}
