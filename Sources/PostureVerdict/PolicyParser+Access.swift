import PostureModel
import Yams

extension PolicyParser {
    static let grantKeys = [
        "name", "description", "users", "groups", "deviceLabels", "ssh", "sudo", "maxDuration", "maxRisk",
        "approval",
    ]

    /// `access: {grants: [...]}`: each grant strict like a rule, names unique.
    static func parseAccess(_ node: Node, _ reader: Reader) throws(PolicyError) -> [AccessGrant] {
        let section = try reader.mapping(node, "access", keys: ["grants"])
        guard let list = section["grants"] else { return [] }
        guard let items = list.sequence else { throw reader.fail(list, "access.grants must be a list of grants") }
        var grants: [AccessGrant] = []
        for item in items {
            let grant = try parseGrant(item, reader)
            guard !grants.contains(where: { $0.name == grant.name }) else {
                throw reader.fail(item, "grant name '\(grant.name)' is used twice")
            }
            grants.append(grant)
        }
        return grants
    }

    static func parseGrant(_ node: Node, _ reader: Reader) throws(PolicyError) -> AccessGrant {
        let line = node.mark?.line
        let keys = try reader.mapping(node, "a grant", keys: grantKeys)
        guard let nameNode = keys["name"], let name = nameNode.string, isGrantName(name) else {
            throw PolicyError(
                file: reader.file, line: line,
                reason: "a grant needs name: of letters, digits, '-', '_' or '.' (at most 64), e.g. name: ops-ssh")
        }
        guard let durationNode = keys["maxDuration"] else {
            throw PolicyError(file: reader.file, line: line, reason: "grant \(name) needs maxDuration:, e.g. 15m")
        }
        let maxDuration = try reader.duration(durationNode, "grant \(name): maxDuration")
        guard maxDuration > .zero, maxDuration <= .seconds(7 * 86_400) else {
            throw reader.fail(durationNode, "grant \(name): maxDuration must be more than 0 and at most 7d")
        }
        var grant = AccessGrant(name: name, maxDuration: maxDuration)
        grant.line = line ?? 0
        grant.description = keys["description"]?.string
        if let node = keys["users"] { grant.users = try reader.strings(node, "grant \(name): users") }
        if let node = keys["groups"] { grant.groups = try reader.strings(node, "grant \(name): groups") }
        if grant.users.isEmpty && grant.groups.isEmpty {
            throw PolicyError(
                file: reader.file, line: line, reason: "grant \(name) needs users: or groups: (who may ask)")
        }
        if let node = keys["deviceLabels"] {
            grant.deviceLabels = try reader.stringMap(node, "grant \(name): deviceLabels")
        }
        if let node = keys["ssh"] {
            let ssh = try reader.mapping(node, "grant \(name): ssh", keys: ["principals"])
            guard let principals = ssh["principals"] else {
                throw reader.fail(node, "grant \(name): ssh needs principals:, e.g. [\"${user}\"]")
            }
            grant.sshPrincipals = try reader.strings(principals, "grant \(name): ssh.principals")
            for principal in grant.sshPrincipals where principal != "${user}" && !isPrincipal(principal) {
                throw reader.fail(
                    principals,
                    "grant \(name): ssh principal '\(principal)' is not a user name (letters, digits, '.', '_', '-') "
                        + "or ${user}")
            }
            if grant.sshPrincipals.isEmpty { throw reader.fail(principals, "grant \(name): ssh.principals is empty") }
        }
        if let node = keys["sudo"] {
            let sudo = try reader.mapping(node, "grant \(name): sudo", keys: ["commands"])
            guard let commandsNode = sudo["commands"] else {
                throw reader.fail(node, "grant \(name): sudo needs commands: (ALL or a list of absolute paths)")
            }
            let commands =
                commandsNode.string == "ALL"
                ? ["ALL"] : try reader.strings(commandsNode, "grant \(name): sudo.commands")
            for command in commands where !SudoGrantState.isSudoersCommand(command) {
                throw reader.fail(
                    commandsNode,
                    "grant \(name): sudo command '\(command)' must be an absolute path with plain arguments "
                        + "(no ',', ':', '=', '\\\\' or newline), or ALL")
            }
            if commands.isEmpty { throw reader.fail(commandsNode, "grant \(name): sudo.commands is empty") }
            grant.sudoCommands = commands
        }
        if grant.sshPrincipals.isEmpty && grant.sudoCommands == nil {
            throw PolicyError(file: reader.file, line: line, reason: "grant \(name) gives nothing: add ssh: or sudo:")
        }
        if let node = keys["maxRisk"] {
            grant.maxRisk = try reader.integer(node, "grant \(name): maxRisk")
            guard grant.maxRisk <= 100 else { throw reader.fail(node, "grant \(name): maxRisk is 0 to 100") }
        }
        if let node = keys["approval"] {
            grant.approval = try reader.choice(node, "grant \(name): approval", [AccessGrant.Approval.auto, .operator])
        }
        return grant
    }

    static func isGrantName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.unicodeScalars.allSatisfy(isNameCharacter)
    }

    /// A POSIX-portable user name, as sshd compares principals with it.
    static func isPrincipal(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && !name.hasPrefix("-")
            && name.unicodeScalars.allSatisfy(isNameCharacter)
    }

    private static func isNameCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "-", "_", ".": true
        default: false
        }
    }
}
