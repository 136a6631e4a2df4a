import PostureModel
import Yams

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A policy file that cannot be used: the file, the line and what to change.
public struct PolicyError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var line: Int?
    public var reason: String

    public var description: String { "\(file)\(line.map { ":\($0)" } ?? ""): \(reason)" }
}

/// Reads a policy file. Strict: an unknown key, a duplicate rule name, a value of the wrong kind is an
/// error naming the line, so a typo never silently weakens the policy.
public enum PolicyParser {
    public static func load(path: String) throws(PolicyError) -> Policy {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PolicyError(
                file: path, line: nil, reason: "cannot read the policy file; check policy.path and its permissions")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: path)
    }

    public static func parse(_ text: String, file: String) throws(PolicyError) -> Policy {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw PolicyError(file: file, line: nil, reason: "not valid YAML: \(error)")
        } catch {
            throw PolicyError(file: file, line: nil, reason: "not valid YAML: \(error)")
        }
        var policy = Policy()
        policy.version = sha256Hex(Array(text.utf8), digits: 16)
        guard let root else { throw PolicyError(file: file, line: nil, reason: "the file is empty; it needs rules:") }
        let reader = Reader(file: file)
        let top = try reader.mapping(
            root, "the policy", keys: ["report", "whenUnavailable", "verdictLifetime", "risk", "rules", "access"])
        if let report = top["report"] {
            let section = try reader.mapping(report, "report", keys: ["maxAge", "whenStale"])
            if let node = section["maxAge"] { policy.maxReportAge = try reader.duration(node, "report.maxAge") }
            if let node = section["whenStale"] {
                policy.whenStale = try reader.choice(
                    node, "report.whenStale", [ComplianceStatus.unknown, .noncompliant])
            }
        }
        if let node = top["whenUnavailable"] {
            policy.whenUnavailable = try reader.choice(
                node, "whenUnavailable", [UnavailableEffect.unknown, .fail, .pass])
        }
        if let node = top["verdictLifetime"] {
            policy.verdictLifetime = try reader.duration(node, "verdictLifetime")
        }
        if let node = top["risk"] { policy.risk = try parseRisk(node, reader) }
        if let node = top["access"] { policy.grants = try parseAccess(node, reader) }
        guard let rulesNode = top["rules"] else {
            throw PolicyError(file: file, line: root.mark?.line, reason: "no rules: list; an empty policy says nothing")
        }
        guard let list = rulesNode.sequence else {
            throw PolicyError(file: file, line: rulesNode.mark?.line, reason: "rules must be a list of rules")
        }
        var names: Set<String> = []
        for node in list {
            let rule = try parseRule(node, reader)
            guard names.insert(rule.name).inserted else {
                throw PolicyError(file: file, line: rule.line, reason: "rule name '\(rule.name)' is used twice")
            }
            policy.rules.append(rule)
        }
        return policy
    }

    static let commonRuleKeys = ["name", "check", "severity", "grace", "labels", "whenUnavailable", "description"]
    static let checkKeys: [String: [String]] = [
        "osVersion": ["minimum", "otherDistributions"], "kernelVersion": ["minimum"], "rootEncrypted": [],
        "swapEncrypted": [], "inboundFiltered": ["families"], "journalEvents": ["events", "max", "window"],
        "secureBoot": [], "kernelLockdown": ["minimum"], "securityModule": ["anyOf"],
        "sshd": ["permitRootLogin", "passwordAuthentication", "permitEmptyPasswords"], "noPendingReboot": [],
        "standingSudo": ["allowed"], "securityUpdates": ["maxPending", "maxPendingAge", "maxListsAge"],
        "runningKernelCurrent": [], "keyProtection": ["minimum"], "measuredBoot": ["pcrs", "reference"],
        "screenLock": ["maxIdle", "unknownLock"], "maxRisk": ["max"],
    ]

    static func parseRule(_ node: Node, _ reader: Reader) throws(PolicyError) -> Rule {
        let line = node.mark?.line
        guard let mapping = node.mapping, let kindNode = mapping["check"], let kind = kindNode.string else {
            throw PolicyError(
                file: reader.file, line: line,
                reason: "each rule needs check: one of \(checkKeys.keys.sorted().joined(separator: ", "))")
        }
        guard let specific = checkKeys[kind] else {
            throw PolicyError(
                file: reader.file, line: kindNode.mark?.line,
                reason: "unknown check '\(kind)'; known: \(checkKeys.keys.sorted().joined(separator: ", "))")
        }
        let fields = try reader.mapping(node, "rule", keys: commonRuleKeys + specific)
        guard let name = fields["name"]?.string, !name.isEmpty,
            name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        else {
            throw PolicyError(
                file: reader.file, line: line, reason: "each rule needs name: letters, digits, - and _ only")
        }
        let check: Check
        switch kind {
        case "osVersion":
            guard let minimum = fields["minimum"] else { throw reader.missing("minimum", name, line) }
            let versions = try reader.stringMap(minimum, "\(name).minimum")
            let others = try fields["otherDistributions"].map { node throws(PolicyError) in
                try reader.word(node, "\(name).otherDistributions", ["fail", "pass"])
            }
            check = .osVersion(minimum: versions, allowOthers: others == "pass")
        case "kernelVersion":
            guard let minimum = fields["minimum"]?.string else { throw reader.missing("minimum", name, line) }
            check = .kernelVersion(minimum: minimum)
        case "rootEncrypted": check = .rootEncrypted
        case "swapEncrypted": check = .swapEncrypted
        case "inboundFiltered":
            let families = try fields["families"].map { node throws(PolicyError) in
                try reader.strings(node, "\(name).families")
            }
            check = .inboundFiltered(families: families ?? ["ipv4", "ipv6"])
        case "journalEvents":
            guard let eventsNode = fields["events"] else { throw reader.missing("events", name, line) }
            var categories: [JournalEventCategory] = []
            for text in try reader.strings(eventsNode, "\(name).events") {
                guard let category = JournalEventCategory(rawValue: text) else {
                    throw PolicyError(
                        file: reader.file, line: eventsNode.mark?.line,
                        reason:
                            "\(name).events: unknown event '\(text)'; known: \(JournalEventCategory.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
                categories.append(category)
            }
            guard let maxNode = fields["max"] else { throw reader.missing("max", name, line) }
            let window = try fields["window"].map { node throws(PolicyError) in
                try reader.duration(node, "\(name).window")
            }
            check = .journalEvents(
                categories: categories, max: try reader.integer(maxNode, "\(name).max"),
                window: window ?? .seconds(3600))
        case "secureBoot": check = .secureBoot
        case "kernelLockdown":
            let minimum = try fields["minimum"].map { node throws(PolicyError) in
                try reader.word(node, "\(name).minimum", ["integrity", "confidentiality"])
            }
            check = .kernelLockdown(minimum: minimum ?? "integrity")
        case "securityModule":
            guard let anyOf = fields["anyOf"] else { throw reader.missing("anyOf", name, line) }
            check = .securityModule(anyOf: try reader.strings(anyOf, "\(name).anyOf"))
        case "sshd":
            check = .sshd(
                permitRootLogin: try fields["permitRootLogin"].map { node throws(PolicyError) in
                    try reader.strings(node, "\(name).permitRootLogin")
                },
                passwordAuthentication: try fields["passwordAuthentication"].map { node throws(PolicyError) in
                    try reader.bool(node, "\(name).passwordAuthentication")
                },
                permitEmptyPasswords: try fields["permitEmptyPasswords"].map { node throws(PolicyError) in
                    try reader.bool(node, "\(name).permitEmptyPasswords")
                })
        case "keyProtection":
            let minimum = try fields["minimum"].map { node throws(PolicyError) in
                try reader.word(node, "\(name).minimum", KeyProtection.allCases.map(\.rawValue))
            }
            check = .keyProtection(minimum: minimum.flatMap(KeyProtection.init(rawValue:)) ?? .tpm)
        case "measuredBoot":
            check = try parseMeasuredBoot(fields, name, reader)
        case "standingSudo":
            check = .standingSudo(
                allowed: try fields["allowed"].map { node throws(PolicyError) in
                    try reader.strings(node, "\(name).allowed")
                } ?? [])
        case "securityUpdates":
            let maxPending = try fields["maxPending"].map { node throws(PolicyError) in
                try reader.integer(node, "\(name).maxPending")
            }
            // Without a bound the rule would pass everything: "no security update pending" is the default.
            check = .securityUpdates(
                maxPending: maxPending ?? (fields["maxPendingAge"] == nil ? 0 : nil),
                maxPendingAge: try fields["maxPendingAge"].map { node throws(PolicyError) in
                    try reader.duration(node, "\(name).maxPendingAge")
                },
                maxListsAge: try fields["maxListsAge"].map { node throws(PolicyError) in
                    try reader.duration(node, "\(name).maxListsAge")
                })
        case "runningKernelCurrent": check = .runningKernelCurrent
        case "maxRisk":
            guard let node = fields["max"] else { throw reader.missing("max", name, line) }
            let max = try reader.integer(node, "\(name).max")
            guard (0...100).contains(max) else {
                throw reader.fail(node, "\(name).max: \(max) is not a risk score 0-100")
            }
            check = .maxRisk(max: max)
        case "screenLock":
            let maxIdle = try fields["maxIdle"].map { node throws(PolicyError) in
                try reader.duration(node, "\(name).maxIdle")
            }
            let unknown = try fields["unknownLock"].map { node throws(PolicyError) in
                try reader.word(node, "\(name).unknownLock", ["fail", "pass"])
            }
            check = .screenLock(maxIdle: maxIdle ?? .seconds(900), allowUnknown: unknown == "pass")
        default: check = .noPendingReboot
        }
        var rule = Rule(name: name, check: check)
        rule.line = line ?? 0
        rule.description = fields["description"]?.string
        if let node = fields["severity"] {
            rule.severity = try reader.choice(node, "\(name).severity", Severity.allCases)
        }
        if let node = fields["grace"] { rule.grace = try reader.duration(node, "\(name).grace") }
        if let node = fields["labels"] { rule.labels = try reader.stringMap(node, "\(name).labels") }
        if let node = fields["whenUnavailable"] {
            rule.whenUnavailable = try reader.choice(
                node, "\(name).whenUnavailable", [UnavailableEffect.unknown, .fail, .pass])
        }
        return rule
    }

    /// `pcrs`: which of PCR 0–9 to compare (all by default); `reference`: per PCR, the values allowed
    /// instead of the device's recorded baseline (a fleet's known-good firmware and boot chain).
    static func parseMeasuredBoot(_ fields: [String: Node], _ name: String, _ reader: Reader) throws(PolicyError)
        -> Check
    {
        func pcr(_ text: String, _ node: Node) throws(PolicyError) -> Int {
            guard let index = Int(text), DetachedAttestation.quotedPCRs.contains(index) else {
                throw reader.fail(node, "\(name): PCR '\(text)' is not one of the quoted PCRs 0-9")
            }
            return index
        }
        var pcrs = DetachedAttestation.quotedPCRs
        if let node = fields["pcrs"] {
            pcrs = []
            for text in try reader.strings(node, "\(name).pcrs") { pcrs.append(try pcr(text, node)) }
            guard !pcrs.isEmpty else { throw reader.fail(node, "\(name).pcrs: name at least one PCR (0-9)") }
        }
        var reference: [Int: [String]] = [:]
        if let node = fields["reference"] {
            for (key, values) in try reader.mapping(
                node, "\(name).reference", keys: DetachedAttestation.quotedPCRs.map(String.init))
            {
                let hex = try reader.strings(values, "\(name).reference.\(key)").map { $0.lowercased() }
                guard hex.allSatisfy({ [UInt8](hex: $0)?.count == 32 }) else {
                    throw reader.fail(values, "\(name).reference.\(key): each value is 64 hex digits (a SHA-256 PCR)")
                }
                let index = try pcr(key, values)
                guard !hex.isEmpty else {
                    throw reader.fail(
                        values, "\(name).reference.\(key): list at least one value (none would always fail)")
                }
                guard pcrs.contains(index) else {
                    throw reader.fail(values, "\(name).reference.\(key): PCR \(key) is not in \(name).pcrs")
                }
                reference[index] = hex
            }
        }
        return .measuredBoot(pcrs: pcrs, reference: reference)
    }

    static func parseRisk(_ node: Node, _ reader: Reader) throws(PolicyError) -> RiskModel {
        var risk = RiskModel()
        let section = try reader.mapping(node, "risk", keys: ["window", "severityWeights", "signals", "baseline"])
        if let node = section["baseline"] { risk.baseline = try parseBaseline(node, reader) }
        if let node = section["window"] { risk.window = try reader.duration(node, "risk.window") }
        if let node = section["severityWeights"] {
            let weights = try reader.mapping(
                node, "risk.severityWeights", keys: Severity.allCases.map(\.rawValue))
            for (key, value) in weights {
                guard let severity = Severity(rawValue: key) else { continue }
                risk.severityWeights[severity] = try reader.integer(value, "risk.severityWeights.\(key)")
            }
        }
        if let node = section["signals"] {
            let signals = try reader.mapping(
                node, "risk.signals", keys: JournalEventCategory.allCases.map(\.rawValue))
            risk.signals = [:]
            for (key, value) in signals {
                let weight = try reader.mapping(value, "risk.signals.\(key)", keys: ["perEvent", "max"])
                guard let perEvent = weight["perEvent"], let max = weight["max"] else {
                    throw PolicyError(
                        file: reader.file, line: value.mark?.line,
                        reason: "risk.signals.\(key) needs perEvent: and max:")
                }
                guard let category = JournalEventCategory(rawValue: key) else { continue }
                risk.signals[category] = SignalWeight(
                    perEvent: try reader.integer(perEvent, "risk.signals.\(key).perEvent"),
                    max: try reader.integer(max, "risk.signals.\(key).max"))
            }
        }
        return risk
    }

    static func parseBaseline(_ node: Node, _ reader: Reader) throws(PolicyError) -> RiskBaseline {
        var baseline = RiskBaseline()
        let fields = try reader.mapping(node, "risk.baseline", keys: ["halfLife", "margin", "floorPerHour", "points"])
        if let node = fields["halfLife"] {
            baseline.halfLife = try reader.duration(node, "risk.baseline.halfLife")
            guard baseline.halfLife.seconds >= 3600 else {
                throw reader.fail(
                    node, "risk.baseline.halfLife: at least 1h (how long a device's usual rate remembers)")
            }
        }
        for (key, minimum) in [("margin", 1.0), ("floorPerHour", 0.0)] {
            guard let node = fields[key] else { continue }
            guard let text = node.string, let value = Double(text), value.isFinite, value >= minimum, value <= 1e6
            else {
                throw reader.fail(
                    node,
                    "risk.baseline.\(key): '\(node.string ?? "?")' is not a number from \(Int(minimum)) to 1000000")
            }
            if key == "margin" { baseline.margin = value } else { baseline.floorPerHour = value }
        }
        if let node = fields["points"] {
            baseline.points = try reader.integer(node, "risk.baseline.points")
            guard (0...100).contains(baseline.points) else { throw reader.fail(node, "risk.baseline.points: 0 to 100") }
        }
        return baseline
    }

    /// Typed reads of YAML nodes, each error naming the file, the line and the key.
    struct Reader {
        let file: String

        func fail(_ node: Node, _ reason: String) -> PolicyError {
            PolicyError(file: file, line: node.mark?.line, reason: reason)
        }

        func missing(_ key: String, _ rule: String, _ line: Int?) -> PolicyError {
            PolicyError(file: file, line: line, reason: "rule \(rule) needs \(key):")
        }

        func mapping(_ node: Node, _ what: String, keys: [String]) throws(PolicyError) -> [String: Node] {
            guard let mapping = node.mapping else { throw fail(node, "\(what) must be a mapping of keys to values") }
            var result: [String: Node] = [:]
            for (key, value) in mapping {
                let name = key.string ?? "?"
                guard keys.contains(name) else {
                    throw fail(
                        key,
                        "unknown key '\(name)' in \(what); known keys here: \(keys.sorted().joined(separator: ", "))")
                }
                result[name] = value
            }
            return result
        }

        func duration(_ node: Node, _ key: String) throws(PolicyError) -> Duration {
            guard let text = node.string, let duration = DurationText(text) else {
                throw fail(node, "\(key): '\(node.string ?? "?")' is not a duration; write e.g. 30s, 15m, 24h or 7d")
            }
            return duration.duration
        }

        func integer(_ node: Node, _ key: String) throws(PolicyError) -> Int {
            guard let text = node.string, let value = Int(text), value >= 0 else {
                throw fail(node, "\(key): '\(node.string ?? "?")' is not a whole number >= 0")
            }
            return value
        }

        func bool(_ node: Node, _ key: String) throws(PolicyError) -> Bool {
            switch node.string?.lowercased() {
            case "true", "yes": return true
            case "false", "no": return false
            default: throw fail(node, "\(key): '\(node.string ?? "?")' is not true or false")
            }
        }

        func word(_ node: Node, _ key: String, _ allowed: [String]) throws(PolicyError) -> String {
            guard let text = node.string, allowed.contains(text) else {
                throw fail(node, "\(key): '\(node.string ?? "?")' is not one of \(allowed.joined(separator: ", "))")
            }
            return text
        }

        func choice<T: RawRepresentable>(_ node: Node, _ key: String, _ allowed: [T]) throws(PolicyError) -> T
        where T.RawValue == String {
            let text = try word(node, key, allowed.map(\.rawValue))
            return allowed.first { $0.rawValue == text } ?? allowed[0]
        }

        func strings(_ node: Node, _ key: String) throws(PolicyError) -> [String] {
            guard let list = node.sequence else { throw fail(node, "\(key) must be a list, e.g. [a, b]") }
            var result: [String] = []
            for item in list {
                guard let text = item.string else { throw fail(item, "\(key): every item must be a plain value") }
                result.append(text)
            }
            return result
        }

        func stringMap(_ node: Node, _ key: String) throws(PolicyError) -> [String: String] {
            guard let mapping = node.mapping else {
                throw fail(node, "\(key) must be a mapping, e.g. {debian: \"12\"}")
            }
            var result: [String: String] = [:]
            for (name, value) in mapping {
                guard let name = name.string, let text = value.string else {
                    throw fail(value, "\(key): keys and values must be plain values")
                }
                result[name] = text
            }
            return result
        }
    }
}
