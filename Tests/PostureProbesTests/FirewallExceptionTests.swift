import Foundation
import PostureLinux
import PostureModel
import TestSupport
import Testing

@testable import PostureProbes

/// A rule before the drop is an exception only when it narrows the traffic: real rulesets, nft-native
/// and iptables-nft, loaded into a network namespace made for each test.
@Suite(
    .serialized,
    Requirement.available(
        programs: ["ip", "nft", "iptables-nft", "ip6tables-nft", "iptables-nft-save", "iptables-nft-restore"],
        root: true))
struct FirewallExceptionTests {
    private func inbound(_ namespace: NetworkNamespace) throws -> InboundFiltering {
        let facts = try namespace.run { FirewallProbe().collect(in: ProbeContext(now: Date())) }
        return try #require(facts.inboundFiltered.value)
    }

    private func inbound(nft ruleset: String, label: String) throws -> InboundFiltering {
        let namespace = try NetworkNamespace(label: label)
        try namespace.loadNftables(ruleset)
        return try inbound(namespace)
    }

    @Test func acceptingAWholeFamilyLeavesItUnfiltered() throws {
        let filtering = try inbound(
            nft: """
                table inet filter {
                  chain input {
                    type filter hook input priority 0; policy drop;
                    ct state established,related accept
                    meta nfproto ipv4 accept
                    tcp dport 22 accept
                  }
                }
                """, label: "fw-nfproto")
        #expect(!filtering.ipv4 && filtering.ipv6)
        #expect(filtering.byFamily == ["inet": false, "ip": false, "ip6": false])
        #expect(filtering.evidence == ["nftables inet filter input (ipv6 only): policy drop"])
    }

    @Test func ipVersionAndEthertypeMatchesSelectAWholeFamily() throws {
        let version = try inbound(
            nft: """
                table ip filter {
                  chain input { type filter hook input priority 0; policy drop; ip version 4 accept; }
                }
                table inet both {
                  chain input {
                    type filter hook input priority 0; policy drop;
                    meta protocol ip6 counter accept
                    ip version 4 accept
                  }
                }
                """, label: "fw-version")
        #expect(!version.ipv4 && !version.ipv6)
        // A header of the other family never matches: an IPv4 address rule is no exception for IPv6.
        let other = try inbound(
            nft: """
                table inet filter {
                  chain input { type filter hook input priority 0; policy drop; ip saddr 192.0.2.0/24 accept; }
                }
                """, label: "fw-otherfamily")
        #expect(other.ipv6 && other.ipv4 && other.byFamily["inet"] == true)
        #expect(other.evidence == ["nftables inet filter input: policy drop"])
    }

    @Test func conntrackStateSetsWithNewAcceptEverything() throws {
        for (index, rule) in [
            "ct state new,established accept", "ct state { new, established } accept", "ct state != invalid accept",
            "ct state vmap { established : accept, new : accept }",
        ].enumerated() {
            let filtering = try inbound(
                nft: """
                    table inet filter {
                      chain input {
                        type filter hook input priority 0; policy drop;
                        \(rule)
                      }
                    }
                    """, label: "fw-ct\(index)")
            #expect(!filtering.ipv4 && !filtering.ipv6, "\(rule)")
        }
        // Without `new` they narrow, and the drop policy still filters.
        let narrowed = try inbound(
            nft: """
                table inet filter {
                  chain input {
                    type filter hook input priority 0; policy drop;
                    ct state vmap { established : accept, related : accept, invalid : drop }
                    ct state != { new, untracked } accept
                  }
                }
                """, label: "fw-ctold")
        #expect(narrowed.ipv4 && narrowed.ipv6)
    }

    @Test func iptablesConntrackStatesAreReadFromSaveText() throws {
        // libnftables JSON shows each of these only as `{"xt": {"type": "match", "name": "conntrack"}}`;
        // the probe reads their states from iptables-nft-save and ip6tables-nft-save.
        for (index, (match, filtered)) in [
            (["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED"], true),
            (["-m", "state", "--state", "ESTABLISHED,RELATED"], true),
            (["-m", "conntrack", "--ctstate", "INVALID", "--ctstatus", "ASSURED"], true),
            (["-m", "conntrack", "--ctstate", "NEW,ESTABLISHED"], false),
            (["-m", "state", "--state", "NEW"], false),
            (["-m", "conntrack", "!", "--ctstate", "INVALID"], false),
            // Deny on doubt: a new packet translated by DNAT carries that state too.
            (["-m", "conntrack", "--ctstate", "DNAT"], false),
            (["-m", "comment", "--comment", "all"], false),
        ].enumerated() {
            let namespace = try NetworkNamespace(label: "fw-xt\(index)")
            for tool in ["iptables-nft", "ip6tables-nft"] {
                try namespace.exec([tool, "-A", "INPUT"] + match + ["-j", "ACCEPT"])
                try namespace.exec([tool, "-P", "INPUT", "DROP"])
            }
            let filtering = try inbound(namespace)
            #expect(filtering.ipv4 == filtered && filtering.ipv6 == filtered, "\(match)")
            let evidence = ["nftables ip filter INPUT: policy drop", "nftables ip6 filter INPUT: policy drop"]
            #expect(filtering.evidence == (filtered ? evidence : []), "\(match)")
        }
    }

    @Test func ufwDefaultDenyIsFiltered() throws {
        // ufw's before/after/user rules with `default deny incoming` and `allow 22/tcp`, shortened, as ufw
        // loads them with iptables-nft-restore on Debian 12.
        let chains = [
            "before-logging-input", "before-input", "after-input", "after-logging-input", "reject-input",
            "track-input", "user-input", "not-local", "logging-deny", "skip-to-policy-input",
        ]
        func rules(_ prefix: String, icmp: String, broadcast: String) -> String {
            """
            *filter
            :INPUT DROP [0:0]
            :FORWARD DROP [0:0]
            :OUTPUT ACCEPT [0:0]
            \(chains.map { ":\(prefix)-\($0) - [0:0]" }.joined(separator: "\n"))
            -A INPUT -j \(prefix)-before-logging-input
            -A INPUT -j \(prefix)-before-input
            -A INPUT -j \(prefix)-after-input
            -A INPUT -j \(prefix)-after-logging-input
            -A INPUT -j \(prefix)-reject-input
            -A INPUT -j \(prefix)-track-input
            -A \(prefix)-before-input -i lo -j ACCEPT
            -A \(prefix)-before-input -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
            -A \(prefix)-before-input -m conntrack --ctstate INVALID -j \(prefix)-logging-deny
            -A \(prefix)-before-input -m conntrack --ctstate INVALID -j DROP
            -A \(prefix)-before-input \(icmp) -j ACCEPT
            -A \(prefix)-before-input -j \(prefix)-not-local
            -A \(prefix)-before-input -j \(prefix)-user-input
            -A \(prefix)-not-local -m addrtype --dst-type LOCAL -j RETURN
            -A \(prefix)-not-local -m addrtype --dst-type MULTICAST -j RETURN
            -A \(prefix)-not-local -m limit --limit 3/min --limit-burst 10 -j \(prefix)-logging-deny
            -A \(prefix)-not-local -j DROP
            -A \(prefix)-after-input -p udp -m udp --dport 137 -j \(prefix)-skip-to-policy-input
            -A \(prefix)-after-input -m addrtype --dst-type \(broadcast) -j \(prefix)-skip-to-policy-input
            -A \(prefix)-after-logging-input -m limit --limit 3/min --limit-burst 10 -j LOG --log-prefix "[UFW BLOCK] "
            -A \(prefix)-logging-deny -m conntrack --ctstate INVALID -m limit --limit 3/min -j RETURN
            -A \(prefix)-skip-to-policy-input -j DROP
            -A \(prefix)-user-input -p tcp -m tcp --dport 22 -j ACCEPT
            COMMIT

            """
        }
        let namespace = try NetworkNamespace(label: "fw-ufw")
        try namespace.exec(
            ["iptables-nft-restore"],
            stdin: Data(rules("ufw", icmp: "-p icmp -m icmp --icmp-type 8", broadcast: "BROADCAST").utf8))
        try namespace.exec(
            ["ip6tables-nft-restore"],
            stdin: Data(rules("ufw6", icmp: "-p ipv6-icmp -m icmp6 --icmpv6-type 128", broadcast: "MULTICAST").utf8))
        let filtering = try inbound(namespace)
        #expect(filtering.ipv4 && filtering.ipv6)
        #expect(
            filtering.evidence == ["nftables ip filter INPUT: policy drop", "nftables ip6 filter INPUT: policy drop"])
    }

    @Test func narrowingIptablesRulesRemainExceptions() throws {
        let namespace = try NetworkNamespace(label: "fw-xtnarrow")
        // A port narrows even with an opaque conntrack match beside it; multiport always names ports.
        try namespace.exec([
            "iptables-nft", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-m", "conntrack", "--ctstate", "NEW",
            "-j", "ACCEPT",
        ])
        try namespace.exec([
            "iptables-nft", "-A", "INPUT", "-p", "udp", "-m", "multiport", "--dports", "53,123", "-j", "ACCEPT",
        ])
        try namespace.exec(["iptables-nft", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT"])
        try namespace.exec(["iptables-nft", "-P", "INPUT", "DROP"])
        let filtering = try inbound(namespace)
        #expect(filtering.ipv4 && !filtering.ipv6)
        #expect(filtering.evidence == ["nftables ip filter INPUT: policy drop"])
    }
}

/// How the states of iptables-nft's opaque conntrack matches are read from saved text, without a kernel.
struct IptablesSaveTextTests {
    private struct SavedText: IptablesRuleText {
        var text: String?
        func saved(family: String, table: String) -> String? { family == "ip" && table == "filter" ? text : nil }
    }

    /// `iptables-nft -P INPUT DROP`, `-A INPUT -m conntrack --ctstate … -j ACCEPT`, and a `-j ufw-x` whose
    /// chain returns on another conntrack match, as libnftables JSON gives them.
    private let json = """
        {"nftables": [{"table": {"family": "ip", "name": "filter"}},
          {"chain": {"family": "ip", "table": "filter", "name": "INPUT", "type": "filter", "hook": "input",
                     "prio": 0, "policy": "drop"}},
          {"chain": {"family": "ip", "table": "filter", "name": "ufw-x"}},
          {"rule": {"family": "ip", "table": "filter", "chain": "INPUT", "expr": [
            {"xt": {"type": "match", "name": "conntrack"}}, {"counter": {"packets": 0, "bytes": 0}}, {"accept": null}]}},
          {"rule": {"family": "ip", "table": "filter", "chain": "INPUT", "expr": [{"jump": {"target": "ufw-x"}}]}},
          {"rule": {"family": "ip", "table": "filter", "chain": "ufw-x", "expr": [
            {"xt": {"type": "match", "name": "conntrack"}}, {"xt": {"type": "match", "name": "comment"}},
            {"return": null}]}}]}
        """

    private func saveText(_ input: [String], _ ufwX: [String] = ["-m conntrack --ctstate INVALID -j RETURN"]) -> String
    {
        """
        # Generated by iptables-nft-save v1.8.9 (nf_tables)
        *filter
        :INPUT DROP [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :ufw-x - [0:0]
        \((input.map { "-A INPUT \($0)" } + ufwX.map { "-A ufw-x \($0)" }).joined(separator: "\n"))
        COMMIT
        # Completed

        """
    }

    private func ipv4Filtered(_ text: String?) throws -> Bool {
        var analysis = try NftablesAnalysis(json: Array(json.utf8))
        analysis.readStateMatches(from: SavedText(text: text))
        return FirewallProbe.inboundFiltering(analysis, legacy: []).ipv4
    }

    @Test func savedStatesDecideTheWalk() throws {
        let established = "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
        #expect(try ipv4Filtered(saveText([established, "-j ufw-x"])))
        #expect(try !ipv4Filtered(saveText(["-m conntrack --ctstate NEW,ESTABLISHED -j ACCEPT", "-j ufw-x"])))
        #expect(try !ipv4Filtered(saveText(["-m state ! --state INVALID -j ACCEPT", "-j ufw-x"])))
        // A return of every new packet comes back to INPUT, whose policy drops.
        #expect(try ipv4Filtered(saveText([established, "-j ufw-x"], ["-m conntrack ! --ctstate INVALID -j RETURN"])))
    }

    @Test func unreadableOrMismatchedTextLeavesTheStatesUnknown() throws {
        let established = "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
        for (text, why) in [
            (nil, "no iptables-nft-save"),
            ("# Table `filter' is incompatible, use 'nft' tool.\n", "a table iptables-nft cannot print"),
            (saveText([established]), "another rule count (the ruleset changed between the two reads)"),
            (saveText([established.replacingOccurrences(of: "ACCEPT", with: "DROP"), "-j ufw-x"]), "another verdict"),
            (saveText(["-m comment --comment \"x\" -j ACCEPT", "-j ufw-x"]), "no conntrack match where one is"),
            (saveText([established, "-j ufw-x"]).replacingOccurrences(of: "COMMIT", with: ""), "cut short"),
            (saveText(["-m conntrack --ctstate RELATED,BOGUS -j ACCEPT", "-j ufw-x"]), "an unknown state"),
        ] {
            #expect(try !ipv4Filtered(text), "\(why)")
        }
    }

    @Test func stateListsAndOptions() {
        let cases: [(String, RuleSelection)] = [
            ("--ctstate RELATED,ESTABLISHED", .none), ("--ctstate NEW", .all), ("! --ctstate INVALID", .all),
            ("! --ctstate NEW,INVALID", .none), ("--state ESTABLISHED", .none), ("! --state INVALID", .all),
            ("--ctstate DNAT", .unknown), ("--ctstate UNTRACKED", .unknown), ("! --ctstate SNAT", .unknown),
            ("--ctstate ESTABLISHED --ctstatus ASSURED", .none), ("--ctstate NEW --ctproto 6", .unknown),
            ("--ctstatus ASSURED", .unknown), ("", .unknown),
        ]
        for (options, expected) in cases {
            let words = options.split(separator: " ").map(String.init)
            #expect(IptablesSaveText.stateSelection(options: words) == expected, "\(options)")
        }
    }

    @Test func quotedWordsAreNeverOptions() throws {
        let words = try #require(
            IptablesSaveText.words(
                #"-p tcp -m comment --comment "-m conntrack \"x\" -j" -m state --state NEW -j ACCEPT"#))
        #expect(words.count == 12 && words[5] == #""-m conntrack \"x\" -j""#)
        #expect(IptablesSaveText.stateSelections(words) == [.all])
        #expect(IptablesSaveText.words(#"-m comment --comment "open"#) == nil)
    }

    @Test func theSaveCommandIsBoundedInTime() throws {
        let echoed = try BoundedChildProcess.output(["/bin/echo", "*filter"])
        #expect(echoed.status == 0 && echoed.output == "*filter\n")
        let start = ContinuousClock.now
        #expect(throws: SystemError.self) {
            try BoundedChildProcess.output(["/bin/sleep", "10"], timeout: .milliseconds(200))
        }
        #expect(ContinuousClock.now - start < .seconds(2))
    }

    @Test func nothingIsRunUnderAFixtureRoot() {
        #expect(IptablesNftSave(root: HostRoot("/nonexistent-fixture")).saved(family: "ip", table: "filter") == nil)
    }
}
