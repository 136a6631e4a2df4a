import PostureLinux

/// Where the text of iptables-nft rules comes from: what `iptables-nft-save -t TABLE` (`family` "ip") or
/// `ip6tables-nft-save -t TABLE` ("ip6") prints, or nil when it cannot be had. Tests give saved text.
protocol IptablesRuleText {
    func saved(family: String, table: String) -> String?
}

/// Runs xtables-nft-multi's save command on the live host, in the calling thread's network namespace. With
/// a fixture root the kernel's rules are not the fixture's, so nothing is run and the states stay unknown.
struct IptablesNftSave: IptablesRuleText {
    var root: HostRoot

    func saved(family: String, table: String) -> String? {
        guard root.isLiveHost, let name = ["ip": "iptables-nft-save", "ip6": "ip6tables-nft-save"][family],
            let path = ["/usr/sbin/", "/sbin/"].map({ $0 + name }).first(where: { root.exists($0) }),
            let result = try? BoundedChildProcess.output([path, "-t", table], timeout: .seconds(2)),
            result.status == 0
        else { return nil }
        return result.output
    }
}

/// One table of iptables-save text: its user chains and each chain's rules, as the words after `-A CHAIN`.
struct IptablesSaveText {
    var userChains: Set<String> = []
    var rules: [String: [[String]]] = [:]

    /// The `*table` section of `text` up to its `COMMIT`; nil when it is absent (iptables-nft-save prints
    /// only a comment for a table it cannot express) or a line is not understood.
    init?(_ text: String, table: String) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)[...]
        guard let start = lines.firstIndex(of: "*\(table)") else { return nil }
        lines = lines[(start + 1)...]
        for line in lines {
            if line == "COMMIT" { return }
            if line.hasPrefix("#") { continue }
            if line.hasPrefix(":") {
                let fields = line.dropFirst().split(separator: " ")
                guard fields.count >= 2 else { return nil }
                let name = String(fields[0])
                rules[name] = rules[name] ?? []
                if fields[1] == "-" { userChains.insert(name) }
                continue
            }
            guard let words = Self.words(line), words.count >= 2, words[0] == "-A", rules[words[1]] != nil else {
                return nil
            }
            rules[words[1], default: []].append(Array(words.dropFirst(2)))
        }
        return nil  // no COMMIT: cut short
    }

    /// Splits a rule line into words. iptables-save double-quotes free text (a comment, a log prefix),
    /// escaping `"` and `\` with a backslash; such a word keeps its quotes, so it never reads as an option.
    static func words(_ line: String) -> [String]? {
        var words: [String] = []
        var word = ""
        var quoted = false
        var escaped = false
        for character in line {
            if escaped {
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" {
                quoted.toggle()
            } else if character == " " && !quoted {
                if !word.isEmpty { words.append(word) }
                word = ""
                continue
            }
            word.append(character)
        }
        guard !quoted, !escaped else { return nil }
        if !word.isEmpty { words.append(word) }
        return words
    }

    /// The rule's verdict as libnftables would give it (`accept`, `jump NAME`), for the verdicts that both
    /// spell alike; nil for none or another target (`LOG`, `REJECT`).
    func verdict(of words: [String]) -> String? {
        guard let at = words.lastIndex(where: { $0 == "-j" || $0 == "-g" }), at + 1 < words.count else { return nil }
        let target = words[at + 1]
        if words[at] == "-g" { return "goto \(target)" }
        switch target {
        case "ACCEPT": return "accept"
        case "DROP": return "drop"
        case "RETURN": return "return"
        default: return userChains.contains(target) ? "jump \(target)" : nil
        }
    }

    /// What each `-m conntrack` and `-m state` of a rule selects of new inbound traffic, in order.
    static func stateSelections(_ words: [String]) -> [RuleSelection] {
        var selections: [RuleSelection] = []
        var index = 0
        while index < words.count {
            defer { index += 1 }
            guard words[index] == "-m", index + 1 < words.count,
                RuleSelection.xtStateMatches.contains(words[index + 1])
            else { continue }
            var end = index + 2
            while end < words.count && !["-m", "-j", "-g"].contains(words[end]) { end += 1 }
            selections.append(stateSelection(options: Array(words[(index + 2)..<end])))
            index = end - 1
        }
        return selections
    }

    /// One `conntrack`/`state` match from its options. `[!] --ctstate LIST` or `[!] --state LIST` decides;
    /// any other option (`--ctstatus`, `--ctproto`, addresses) is a further condition not read, so only a
    /// state list without NEW stays certain (a conjunction with `none` selects none).
    static func stateSelection(options: [String]) -> RuleSelection {
        var selection: RuleSelection?
        var others = false
        var negated = false
        var index = 0
        while index < options.count {
            let option = options[index]
            index += 1
            if option == "!" {
                negated = true
                continue
            }
            if option == "--ctstate" || option == "--state", index < options.count, selection == nil {
                selection = states(options[index].split(separator: ",").map(String.init), negated: negated)
                index += 1
            } else if option.hasPrefix("--") {
                others = true
            }
            negated = false
        }
        guard let selection else { return .unknown }
        return others ? selection.and(.unknown) : selection
    }

    /// A new packet carries the NEW state (with SNAT or DNAT when it was translated), or only UNTRACKED
    /// when the raw table exempted it; the match is "some state of the packet is in the list", inverted by
    /// `!`. NEW decides; without it, a list naming UNTRACKED, SNAT or DNAT may still take new packets.
    private static func states(_ names: [String], negated: Bool) -> RuleSelection {
        let known: Set<String> = ["INVALID", "NEW", "ESTABLISHED", "RELATED", "UNTRACKED", "SNAT", "DNAT"]
        guard !names.isEmpty, names.allSatisfy(known.contains) else { return .unknown }
        if names.contains("NEW") { return negated ? .none : .all }
        if names.contains(where: ["UNTRACKED", "SNAT", "DNAT"].contains) { return .unknown }
        return negated ? .all : .none
    }
}

extension NftablesAnalysis {
    /// The iptables tables iptables-nft-save can print.
    private static let iptablesTables: Set<String> = ["filter", "mangle", "raw", "security", "nat"]

    /// Reads the states of opaque `xt` `conntrack`/`state` matches in iptables-nft tables from `source`. A
    /// chain is read only when its saved text has as many rules as nftables lists, each with the same
    /// verdict and as many state matches where nftables has opaque ones; otherwise its matches stay
    /// unknown. The source is asked once per table, and only for tables holding such matches.
    mutating func readStateMatches(from source: some IptablesRuleText) {
        var texts: [String: IptablesSaveText?] = [:]
        for index in chains.indices {
            let chain = chains[index]
            let opaque = chain.rules.map { $0.expressions.filter(RuleSelection.isOpaqueStateMatch).count }
            guard opaque.contains(where: { $0 > 0 }), ["ip", "ip6"].contains(chain.family),
                Self.iptablesTables.contains(chain.table)
            else { continue }
            let key = "\(chain.family) \(chain.table)"
            if texts[key] == nil {
                texts[key] = .some(
                    source.saved(family: chain.family, table: chain.table).flatMap {
                        IptablesSaveText($0, table: chain.table)
                    })
            }
            guard let text = texts[key] ?? nil, let lines = text.rules[chain.summary.name],
                lines.count == chain.rules.count
            else { continue }
            let states = lines.map(IptablesSaveText.stateSelections)
            let agree = chain.rules.indices.allSatisfy { position in
                Self.verdict(of: chain.rules[position]) == text.verdict(of: lines[position])
                    && (opaque[position] == 0 || states[position].count == opaque[position])
            }
            guard agree else { continue }
            for position in chain.rules.indices where opaque[position] > 0 {
                chains[index].rules[position].xtStates = states[position]
            }
        }
    }

    /// A rule's verdict in the words `IptablesSaveText.verdict` uses; nil for none or another.
    private static func verdict(of rule: Rule) -> String? {
        for expression in rule.expressions {
            guard let (key, body) = expression.soleEntry else { continue }
            switch key {
            case "accept", "drop", "return": return key
            case "jump", "goto": return body["target"]?.string.map { "\(key) \($0)" }
            default: continue
            }
        }
        return nil
    }
}
