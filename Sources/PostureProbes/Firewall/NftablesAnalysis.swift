import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Turns libnftables JSON (libnftables-json(5)) into the reported ruleset, and decides whether each
/// family's input path drops new inbound traffic by default. The rules are in `Firewall/README.md`.
struct NftablesAnalysis {
    struct Rule {
        var expressions: [JSONValue]
        /// What each opaque `xt` `conntrack`/`state` match selects, in order, when iptables-nft-save text
        /// told its states (`readStateMatches`); empty when it did not, and each is then unknown.
        var xtStates: [RuleSelection] = []
    }

    struct Chain {
        var family: String
        var table: String
        var summary: NftChain
        var rules: [Rule]
    }

    var chains: [Chain] = []
    var tableOrder: [(family: String, name: String)] = []
    /// iptables-nft stores its matches as opaque `xt` expressions.
    var usesXtables = false

    init(json: [UInt8]) throws {
        let document = try JSONDecoder().decode(JSONValue.self, from: Data(json))
        guard let items = document["nftables"]?.array else {
            throw ProbeError("libnftables output has no \"nftables\" array")
        }
        var chainIndex: [String: Int] = [:]
        for item in items {
            guard let (kind, body) = item.soleEntry else { continue }
            switch kind {
            case "table":
                if let family = body["family"]?.string, let name = body["name"]?.string {
                    tableOrder.append((family, name))
                }
            case "chain":
                guard let family = body["family"]?.string, let table = body["table"]?.string,
                    let name = body["name"]?.string
                else { continue }
                let summary = NftChain(
                    name: name, type: body["type"]?.string, hook: body["hook"]?.string,
                    priority: body["prio"]?.int, policy: body["policy"]?.string, ruleCount: 0)
                chainIndex["\(family)\u{0}\(table)\u{0}\(name)"] = chains.count
                chains.append(Chain(family: family, table: table, summary: summary, rules: []))
            case "rule":
                guard let family = body["family"]?.string, let table = body["table"]?.string,
                    let chain = body["chain"]?.string, let index = chainIndex["\(family)\u{0}\(table)\u{0}\(chain)"]
                else { continue }
                let expressions = body["expr"]?.array ?? []
                if expressions.contains(where: { $0["xt"] != nil }) { usesXtables = true }
                chains[index].rules.append(Rule(expressions: expressions))
                chains[index].summary.ruleCount += 1
            default:
                continue
            }
        }
    }

    var ruleset: NftablesRuleset {
        NftablesRuleset(
            tables: tableOrder.map { table in
                NftTable(
                    family: table.family, name: table.name,
                    chains: chains.filter { $0.family == table.family && $0.table == table.name }.map(\.summary))
            })
    }

    /// What a base chain does with a new inbound packet that no more specific rule decided.
    enum Outcome: Equatable {
        case drops(String)
        case acceptsAll(String)
        case passes
    }

    /// For each input-hook filter chain and each IP family it sees, whether it drops unmatched new
    /// inbound traffic of that family (an `inet` chain may accept all IPv4 and drop the rest of IPv6).
    func inputChainOutcomes() -> [(chain: Chain, family: IPFamily, outcome: Outcome)] {
        chains.filter { $0.summary.hook == "input" && ($0.summary.type ?? "filter") == "filter" }.flatMap { chain in
            IPFamily.carried(by: chain.family).map { family in
                (chain, family, outcome(of: chain, family: family, depth: 0) ?? policyOutcome(chain))
            }
        }
    }

    private func policyOutcome(_ chain: Chain) -> Outcome {
        chain.summary.policy == "drop" ? .drops("policy drop") : .passes
    }

    /// Walks the rules in order. Returns nil when the chain's end is reached without a decision.
    private func outcome(of chain: Chain, family: IPFamily, depth: Int) -> Outcome? {
        guard depth < 16 else { return nil }
        // After a `return` that may apply to every packet, a later drop may not see them all.
        var dropsSeeAll = true
        for (position, rule) in chain.rules.enumerated() {
            guard let (verdict, target, selected) = Self.decision(of: rule, family: family), selected != .none
            else { continue }
            let at = "rule \(position + 1)"
            let doubt = "a match that may select every new packet"
            switch verdict {
            case "drop", "reject":
                if selected == .all && dropsSeeAll { return .drops("\(at): unconditional \(verdict)") }
            case "accept":
                if selected == .all { return .acceptsAll("\(at): unconditional accept") }
                if selected == .unknown { return .acceptsAll("\(at): accept with \(doubt)") }
            case "jump", "goto":
                guard selected != .some, let target,
                    let next = chains.first(where: {
                        $0.family == chain.family && $0.table == chain.table && $0.summary.name == target
                    })
                else { continue }
                let decided = outcome(of: next, family: family, depth: depth + 1)
                if selected == .unknown {
                    // Only what may happen to every packet counts: an accept there, not a drop.
                    if case .acceptsAll(let why)? = decided {
                        return .acceptsAll("\(at): \(verdict) \(target) with \(doubt); \(why)")
                    }
                    // What a goto took away never reaches a later drop in this chain.
                    if verdict == "goto" { dropsSeeAll = false }
                    continue
                }
                if let decided, dropsSeeAll || !decided.isDrop { return decided }
                if verdict == "goto" { return nil }  // goto does not come back; the base policy applies
            case "return":
                if selected == .all { return nil }
                if selected == .unknown { dropsSeeAll = false }
            default:
                continue
            }
        }
        return nil
    }

    /// The rule's verdict (a `ct state` verdict map gives the one for `new`), its jump target, and what its
    /// matches select; nil when the rule has no verdict of its own.
    private static func decision(
        of rule: Rule, family: IPFamily
    ) -> (verdict: String, target: String?, selected: RuleSelection)? {
        let selected = RuleSelection.of(rule.expressions, family: family, xtStates: rule.xtStates)
        for expression in rule.expressions {
            guard let (key, body) = expression.soleEntry else { continue }
            if verdicts.contains(key) { return (key, body["target"]?.string, selected) }
            if key == "vmap" {
                // Another key (ports, addresses) narrows like any match; only a conntrack state key can
                // decide every new packet.
                guard body["key"]?["ct"]?["key"]?.string == "state" else { return nil }
                let entries = body["data"]?["set"]?.array ?? []
                guard let entry = entries.first(where: { $0.array?.first?.string == "new" }),
                    let (verdict, target) = entry.array?.last?.soleEntry, verdicts.contains(verdict)
                else { return nil }
                return (verdict, target["target"]?.string, selected)
            }
        }
        return nil
    }

    private static let verdicts: Set<String> = ["accept", "drop", "reject", "jump", "goto", "return", "queue"]
}

extension NftablesAnalysis.Outcome {
    var isDrop: Bool {
        if case .drops = self { return true }
        return false
    }
}
