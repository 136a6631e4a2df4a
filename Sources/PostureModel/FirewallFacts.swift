/// Host firewall state, read from the kernel (nftables via libnftables, iptables-legacy via x_tables).
public struct FirewallFacts: Sendable, Codable, Equatable {
    public var nftables: Fact<NftablesRuleset>
    public var iptablesLegacy: Fact<LegacyIptables>
    /// Is new inbound traffic filtered with a default drop/reject? Rules in `Firewall/README.md`.
    public var inboundFiltered: Fact<InboundFiltering>
    /// Which frameworks have state in the kernel: `nftables`, `iptables-nft`, `iptables-legacy`,
    /// `firewalld`, `ufw`.
    public var activeFrameworks: Fact<[String]>

    public init(
        nftables: Fact<NftablesRuleset>, iptablesLegacy: Fact<LegacyIptables>,
        inboundFiltered: Fact<InboundFiltering>, activeFrameworks: Fact<[String]>
    ) {
        self.nftables = nftables
        self.iptablesLegacy = iptablesLegacy
        self.inboundFiltered = inboundFiltered
        self.activeFrameworks = activeFrameworks
    }
}

public struct InboundFiltering: Sendable, Codable, Equatable {
    /// IPv4 traffic is filtered by some table (nftables `ip` or `inet`, or iptables-legacy).
    public var ipv4: Bool
    /// IPv6 traffic is filtered by some table (nftables `ip6` or `inet`, or ip6tables-legacy).
    public var ipv6: Bool
    /// Per nftables family (`ip`, `ip6`, `inet`): do that family's tables alone filter inbound traffic?
    public var byFamily: [String: Bool]
    /// The chains that establish the filtering, as `family table chain: why`.
    public var evidence: [String]

    public init(ipv4: Bool, ipv6: Bool, byFamily: [String: Bool], evidence: [String]) {
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.byFamily = byFamily
        self.evidence = evidence
    }
}

public struct NftablesRuleset: Sendable, Codable, Equatable {
    public var tables: [NftTable]

    public init(tables: [NftTable]) { self.tables = tables }
}

public struct NftTable: Sendable, Codable, Equatable {
    public var family: String
    public var name: String
    public var chains: [NftChain]

    public init(family: String, name: String, chains: [NftChain]) {
        self.family = family
        self.name = name
        self.chains = chains
    }
}

public struct NftChain: Sendable, Codable, Equatable {
    public var name: String
    /// Base chains only: `filter`, `nat`, `route`.
    public var type: String?
    /// Base chains only: `prerouting`, `input`, `forward`, `output`, `postrouting`, `ingress`.
    public var hook: String?
    public var priority: Int?
    /// Base chains only: `accept` or `drop`.
    public var policy: String?
    public var ruleCount: Int

    public init(name: String, type: String?, hook: String?, priority: Int?, policy: String?, ruleCount: Int) {
        self.name = name
        self.type = type
        self.hook = hook
        self.priority = priority
        self.policy = policy
        self.ruleCount = ruleCount
    }

    public var isBaseChain: Bool { hook != nil }
}

/// iptables-legacy state: tables the kernel's x_tables holds for this network namespace.
public struct LegacyIptables: Sendable, Codable, Equatable {
    public var tables: [LegacyTable]
    /// Any rule, or any built-in chain whose policy is not ACCEPT.
    public var hasRules: Bool

    public init(tables: [LegacyTable]) {
        self.tables = tables
        self.hasRules = tables.contains { table in
            table.ruleCount > 0 || table.userChains > 0 || table.policies.values.contains { $0 != "ACCEPT" }
        }
    }
}

public struct LegacyTable: Sendable, Codable, Equatable {
    /// `ipv4` (iptables) or `ipv6` (ip6tables).
    public var family: String
    public var name: String
    public var ruleCount: Int
    public var userChains: Int
    /// Built-in chain name (`INPUT`, …) to its policy (`ACCEPT`, `DROP`).
    public var policies: [String: String]

    public init(family: String, name: String, ruleCount: Int, userChains: Int, policies: [String: String]) {
        self.family = family
        self.name = name
        self.ruleCount = ruleCount
        self.userChains = userChains
        self.policies = policies
    }
}
