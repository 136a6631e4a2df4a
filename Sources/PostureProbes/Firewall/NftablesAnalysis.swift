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

    /// For each input-hook filter chain, whether it drops unmatched new inbound traffic.
    func inputChainOutcomes() -> [(chain: Chain, outcome: Outcome)] {
        chains.filter { $0.summary.hook == "input" && ($0.summary.type ?? "filter") == "filter" }.map { chain in
            (chain, outcome(of: chain, depth: 0) ?? policyOutcome(chain))
        }
    }

    private func policyOutcome(_ chain: Chain) -> Outcome {
        chain.summary.policy == "drop" ? .drops("policy drop") : .passes
    }

    /// Walks the rules in order. Returns nil when the chain's end is reached without a decision.
    private func outcome(of chain: Chain, depth: Int) -> Outcome? {
        guard depth < 16 else { return nil }
        for (position, rule) in chain.rules.enumerated() {
            guard let verdict = Self.verdict(of: rule), Self.appliesToAllNewTraffic(rule) else { continue }
            let at = "rule \(position + 1)"
            switch verdict {
            case "drop", "reject":
                return .drops("\(at): unconditional \(verdict)")
            case "accept":
                return .acceptsAll("\(at): unconditional accept")
            case "jump", "goto":
                guard let target = Self.jumpTarget(of: rule),
                    let next = chains.first(where: {
                        $0.family == chain.family && $0.table == chain.table && $0.summary.name == target
                    })
                else { continue }
                if let decided = outcome(of: next, depth: depth + 1) { return decided }
                if verdict == "goto" { return nil }  // goto does not come back; the base policy applies
            case "return":
                return nil
            default:
                continue
            }
        }
        return nil
    }

    private static let verdicts: Set<String> = ["accept", "drop", "reject", "jump", "goto", "return", "queue"]
    /// Statements that neither match nor decide: the rule still applies to every packet.
    private static let neutralStatements: Set<String> = ["counter", "log", "comment", "notrack", "meta", "mangle"]

    private static func verdict(of rule: Rule) -> String? {
        rule.expressions.lazy.compactMap { $0.soleEntry?.key }.first { verdicts.contains($0) }
    }

    private static func jumpTarget(of rule: Rule) -> String? {
        for expression in rule.expressions {
            if let target = expression["jump"]?["target"]?.string ?? expression["goto"]?["target"]?.string {
                return target
            }
        }
        return nil
    }

    /// True when nothing in the rule narrows it below "every new inbound packet": no match other than a
    /// conntrack state match that includes `new`.
    private static func appliesToAllNewTraffic(_ rule: Rule) -> Bool {
        for expression in rule.expressions {
            guard let (key, body) = expression.soleEntry else { return false }
            if verdicts.contains(key) { continue }
            if key == "match" {
                if isConntrackNewMatch(body) { continue }
                return false
            }
            if key == "meta" || key == "mangle" {
                // `meta` as a statement sets a value (e.g. mark); it does not narrow the rule.
                if body["key"] != nil && body["value"] != nil { continue }
                return false
            }
            if neutralStatements.contains(key) { continue }
            return false  // limit, xt matches, sets, anything unknown: treat as a condition
        }
        return true
    }

    private static func isConntrackNewMatch(_ match: JSONValue) -> Bool {
        guard match["left"]?["ct"]?["key"]?.string == "state" else { return false }
        let op = match["op"]?.string ?? "=="
        guard op == "==" || op == "in" else { return false }
        switch match["right"] {
        case .string(let state)?: return state == "new"
        case .array(let states)?: return states.contains { $0.string == "new" }
        case .object(let set)?: return set["set"]?.array?.contains { $0.string == "new" } ?? false
        default: return false
        }
    }
}
