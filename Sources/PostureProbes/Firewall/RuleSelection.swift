/// The IP family of a new inbound packet, as a base chain on the input hook sees it.
enum IPFamily: String, CaseIterable {
    case ipv4, ipv6

    /// The IP families whose packets an nftables family's chains see.
    static func carried(by nftFamily: String) -> [IPFamily] {
        switch nftFamily {
        case "ip": return [.ipv4]
        case "ip6": return [.ipv6]
        case "inet": return [.ipv4, .ipv6]
        default: return []
        }
    }
}

/// What a rule's matches select from the new inbound packets of one IP family. Deny on doubt: what
/// cannot be read (most iptables-nft `xt` matches, a rate limit, a named set) is `unknown`, which is
/// never taken to narrow an accept and never taken to make a drop unconditional.
enum RuleSelection: Equatable {
    /// Every new packet of the family: a rule that only counts, logs, or matches the whole family or a
    /// conntrack state set that includes `new`.
    case all
    /// Not one new packet of the family (`meta nfproto ipv6` in an IPv4 walk, `ct state established`).
    case none
    /// A known proper part: ports, addresses, interfaces, protocols.
    case some
    /// Could be every new packet.
    case unknown

    /// Both conditions (the expressions of one rule are a conjunction).
    func and(_ other: RuleSelection) -> RuleSelection {
        if self == .none || other == .none { return .none }
        if self == .some || other == .some { return .some }
        if self == .unknown || other == .unknown { return .unknown }
        return .all
    }

    /// Expressions that do not select: verdicts and statements that count, log or set a value.
    private static let neutral: Set<String> = [
        "accept", "drop", "reject", "jump", "goto", "return", "queue", "continue", "counter", "log", "comment",
        "notrack", "mangle", "set", "vmap",
    ]
    /// `xt` matches that always confine a rule to one protocol, an address range, a MAC or a set, whatever
    /// their (unreadable) options. `addrtype`, `limit` and the rest could select every new packet; so could
    /// `conntrack` and `state` (libnftables JSON gives only the extension's name, so `--ctstate
    /// NEW,ESTABLISHED` cannot be told from `ESTABLISHED`) unless iptables-nft-save text says which states.
    private static let narrowingXtMatches: Set<String> = [
        "tcp", "udp", "sctp", "dccp", "icmp", "icmp6", "multiport", "iprange", "mac", "set",
    ]

    /// The `xt` matches that test conntrack states; their options are read from iptables-nft-save text.
    static let xtStateMatches: Set<String> = ["conntrack", "state"]

    /// Whether an expression is an `xt` `conntrack` or `state` match, whose states libnftables JSON hides.
    static func isOpaqueStateMatch(_ expression: JSONValue) -> Bool {
        guard let body = expression["xt"], body["type"]?.string == "match" else { return false }
        return xtStateMatches.contains(body["name"]?.string ?? "")
    }

    /// The selection of a whole rule for `family`. `xtStates` gives, in order, what each opaque
    /// `conntrack`/`state` match was read to select (`IptablesSaveText`); one not given is unknown.
    static func of(_ expressions: [JSONValue], family: IPFamily, xtStates: [RuleSelection] = []) -> RuleSelection {
        var states = xtStates.makeIterator()
        return expressions.reduce(.all) { selection, expression in
            guard isOpaqueStateMatch(expression) else { return selection.and(of(expression, family: family)) }
            return selection.and(states.next() ?? .unknown)
        }
    }

    static func of(_ expression: JSONValue, family: IPFamily) -> RuleSelection {
        guard let (key, body) = expression.soleEntry else { return .unknown }
        switch key {
        case "match":
            return match(body, family: family)
        case "meta":
            // `meta` as a statement sets a value (e.g. mark); it does not narrow the rule.
            return body["key"] != nil && body["value"] != nil ? .all : .unknown
        case "xt":
            guard body["type"]?.string == "match" else { return .all }  // targets and watchers act, not match
            let name = body["name"]?.string ?? ""
            if name == "comment" { return .all }
            return narrowingXtMatches.contains(name) ? .some : .unknown
        default:
            return neutral.contains(key) ? .all : .unknown  // limit, quota and anything unknown
        }
    }

    private static func match(_ body: JSONValue, family: IPFamily) -> RuleSelection {
        let op = body["op"]?.string ?? "=="
        guard let left = body["left"], let right = body["right"] else { return .unknown }
        if let key = left["meta"]?["key"]?.string, ["nfproto", "l3proto", "protocol"].contains(key) {
            // The whole family, or none of it; `protocol` is the ethertype (`ip`, `ip6`).
            let names: [IPFamily: Set<String>] = [
                .ipv4: ["ipv4", "ip", "2", "2048"], .ipv6: ["ipv6", "ip6", "10", "34525"],
            ]
            guard let values = atoms(right), let selected = names[family] else { return .unknown }
            return membership(op, contains: values.contains { selected.contains($0) })
        }
        if let payload = left["payload"], let header = payload["protocol"]?.string {
            // A header of the other family never matches (nft adds the family dependency itself).
            let headerFamily: [String: IPFamily] = ["ip": .ipv4, "icmp": .ipv4, "ip6": .ipv6, "icmpv6": .ipv6]
            if let owner = headerFamily[header], owner != family { return .none }
            if payload["field"]?.string == "version", let owner = headerFamily[header], owner == family {
                guard let values = atoms(right) else { return .unknown }
                return membership(op, contains: values.contains(family == .ipv4 ? "4" : "6"))
            }
            return .some
        }
        if left["ct"]?["key"]?.string == "state" {
            guard let states = atoms(right), !states.contains(where: { $0.hasPrefix("@") }) else { return .unknown }
            return membership(op, contains: states.contains("new"))
        }
        return .some
    }

    /// `==`/`in` a set containing the packet's value selects all; `!=` selects none; other operators
    /// (`<`, bitwise forms) are not read.
    private static func membership(_ op: String, contains: Bool) -> RuleSelection {
        switch op {
        case "==", "in": return contains ? .all : .none
        case "!=": return contains ? .none : .all
        default: return .unknown
        }
    }

    /// A match's right side as plain values: a value, a list of flags, or an anonymous set.
    private static func atoms(_ value: JSONValue) -> [String]? {
        switch value {
        case .string(let text): return [text]
        case .number: return value.int.map { [String($0)] }
        case .array(let items):
            let values = items.compactMap { atoms($0) }
            return values.count == items.count ? values.flatMap { $0 } : nil
        case .object:
            return value["set"].flatMap(atoms)
        default: return nil
        }
    }
}
