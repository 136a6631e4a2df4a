import PostureLinux
import PostureModel

#if canImport(Glibc)
    import Glibc
#endif

private typealias GroupEntry = group

/// Standing sudo: the user specifications of `/etc/sudoers` and what it includes, as sudo reads them,
/// with the users each one names resolved from the local user database. Posture's own drop-ins
/// (`posture-grant-ID-DEADLINE`, whose rules carry `NOTAFTER`) are counted apart.
public struct SudoProbe: Probe {
    static let mainConfig = "/etc/sudoers"

    public init() {}

    public func collect(in context: ProbeContext) -> Fact<SudoFacts> {
        let root = context.root
        return .reading(Self.mainConfig) {
            let installed = root.exists("/usr/bin/sudo")
            guard root.exists(Self.mainConfig) else {
                return SudoFacts(installed: installed, standingUsers: [], rules: [], postureGrants: 0, files: [])
            }
            var sudoers = SudoersReader()
            try sudoers.read(Self.mainConfig, root: root, depth: 0)
            let accounts = LocalAccounts(root: root)
            return SudoFacts(
                installed: installed, standingUsers: sudoers.standingUsers(accounts),
                rules: Array(sudoers.rules.prefix(256)), postureGrants: sudoers.postureGrants, files: sudoers.files)
        }
    }
}

/// sudoers(5) as far as who may run commands: lines joined at a trailing `\`, comments (but `#include`,
/// `#includedir` and a `#uid` user), `@include`/`@includedir` (and their `#` forms) read in place, an
/// include directory's files in order, skipping names with a `.` or ending in `~` as sudo does;
/// `User_Alias` definitions; and each user specification's user list. Defaults and other aliases are skipped.
struct SudoersReader {
    private(set) var files: [String] = []
    private(set) var rules: [SudoRuleFact] = []
    private(set) var postureGrants = 0
    private(set) var aliases: [String: [String]] = [:]
    /// Every user-list entry of a standing rule.
    private(set) var entries: [String] = []

    mutating func read(_ path: String, root: HostRoot, depth: Int) throws {
        guard depth < 16 else { throw ProbeError("\(path): includes nested deeper than 16") }
        guard files.count < 1024 else { throw ProbeError("\(path): more than 1024 sudoers files") }
        files.append(path)
        let postureFile = Self.isPostureDropIn(path)
        let text = try root.readText(path, limit: 1 << 20)
        var logical = ""
        var startLine = 0
        // "\r\n" is one Character: split on it too.
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        for (number, raw) in lines.enumerated() {
            if logical.isEmpty { startLine = number + 1 }
            // sudo continues a line at a `\` before blanks too, but never a comment.
            let content = raw.trimmingWhitespace()
            if content.hasSuffix("\\") && !(logical.isEmpty && Self.isComment(content)) {
                logical += content.dropLast() + " "
                continue
            }
            logical += raw
            let line = Substring(logical).trimmingWhitespace()
            logical = ""
            try take(line, at: "\(path):\(startLine)", in: path, postureFile: postureFile, root: root, depth: depth)
        }
    }

    private mutating func take(
        _ line: Substring, at place: String, in path: String, postureFile: Bool, root: HostRoot, depth: Int
    ) throws {
        guard !line.isEmpty else { return }
        let word = line.prefix(while: { $0 != " " && $0 != "\t" })
        let argument = String(line.dropFirst(word.count).trimmingWhitespace())
        switch word {
        case "@include", "#include":
            try read(Self.resolve(argument, from: path), root: root, depth: depth + 1)
            return
        case "@includedir", "#includedir":
            let directory = Self.resolve(argument, from: path)
            guard let names = try? root.contentsOfDirectory(directory) else { return }
            for name in names.sorted() where !name.contains(".") && !name.hasSuffix("~") {
                try read("\(directory)/\(name)", root: root, depth: depth + 1)
            }
            return
        default: break
        }
        if Self.isComment(line) { return }
        if word.hasPrefix("Defaults") || ["Host_Alias", "Runas_Alias", "Cmnd_Alias", "Cmd_Alias"].contains(word) {
            return
        }
        if word == "User_Alias" {
            // NAME = a, b : NAME2 = c
            for definition in argument.split(separator: ":") {
                let parts = definition.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                aliases[String(parts[0].trimmingWhitespace())] = Self.list(parts[1])
            }
            return
        }
        // A user specification: the user list runs to the first blank not next to a comma.
        guard line.contains("=") else { return }
        var who = ""
        var rest = line[...]
        while let character = rest.first {
            if character == " " || character == "\t" {
                let after = rest.drop(while: { $0 == " " || $0 == "\t" })
                if who.hasSuffix(",") || after.first == "," {
                    rest = after
                    continue
                }
                break
            }
            who.append(character)
            rest = rest.dropFirst()
        }
        if postureFile && line.contains("NOTAFTER=") {
            postureGrants += 1
            return
        }
        rules.append(SudoRuleFact(who: Self.clipped(who, 256), at: Self.clipped(place, 4096)))
        entries += Self.list(Substring(who))
    }

    /// The users the standing rules name, resolved; root left out.
    func standingUsers(_ accounts: LocalAccounts) -> [String] {
        var users = Set<String>()
        var seen = Set<String>()
        func add(_ entry: String) {
            guard !entry.hasPrefix("!"), seen.insert(entry).inserted else { return }
            if entry == "ALL" {
                users.insert("ALL")
            } else if let alias = aliases[entry] {
                alias.forEach(add)
            } else if entry.hasPrefix("%") {
                let group = entry.hasPrefix("%:") ? String(entry.dropFirst(2)) : String(entry.dropFirst())
                if let members = accounts.members(ofGroup: group) {
                    users.formUnion(members)
                } else if let members = accounts.directoryMembers(ofGroup: group) {
                    // On the live host, the user database (LDAP, SSSD) knows it; unknown there too, it does
                    // not exist and its rule grants nobody (Ubuntu's `%admin`).
                    users.formUnion(members)
                } else {
                    users.insert(entry)
                }
            } else if entry.hasPrefix("#"), let uid = Int(entry.dropFirst()) {
                users.insert(accounts.name(uid: uid) ?? entry)
            } else {
                users.insert(entry)
            }
        }
        entries.forEach(add)
        users.remove("root")
        return users.sorted().prefix(1024).map { Self.clipped($0, 256) }
    }

    /// At most `bytes` UTF-8 bytes, cut at a character boundary (the collector's limits count bytes).
    static func clipped(_ text: String, _ bytes: Int) -> String {
        var result = ""
        var count = 0
        for character in text {
            count += character.utf8.count
            if count > bytes { break }
            result.append(character)
        }
        return result
    }

    /// A comment: `#`, unless it starts a uid (`#1001 ALL=...`) or an include directive (handled first).
    static func isComment(_ line: Substring) -> Bool {
        line.hasPrefix("#") && !(line.dropFirst().first?.isNumber ?? false) && !line.hasPrefix("#include")
    }

    /// A comma-separated list, each entry trimmed (quotes kept: sudoers allows `"%domain users"`).
    static func list(_ text: Substring) -> [String] {
        text.split(separator: ",").map { String($0.trimmingWhitespace()) }.filter { !$0.isEmpty }
    }

    /// Include paths are relative to the including file's directory (sudo 1.9).
    static func resolve(_ path: String, from file: String) -> String {
        var path = path
        if path.count >= 2, path.hasPrefix("\""), path.hasSuffix("\"") { path = String(path.dropFirst().dropLast()) }
        if path.hasPrefix("/") { return path }
        let directory = file.split(separator: "/").dropLast().joined(separator: "/")
        return "/\(directory)/\(path)"
    }

    /// `posture-grant-ID-DEADLINE`: what the agent names its drop-ins (SudoersDropIns).
    static func isPostureDropIn(_ path: String) -> Bool {
        let name = path.split(separator: "/").last ?? ""
        guard name.hasPrefix("posture-grant-") else { return false }
        let parts = name.dropFirst("posture-grant-".count).split(separator: "-")
        return parts.count == 2 && parts.allSatisfy { Int64($0) != nil }
    }
}

/// /etc/passwd and /etc/group of the host root, for resolving groups and uids (local files only: a group
/// served by LDAP or SSSD stays `%group`).
struct LocalAccounts {
    let passwd: [[Substring]]
    let group: [[Substring]]
    /// Whether the user database may be asked (the root is this host's).
    let live: Bool

    init(root: HostRoot) {
        live = root.isLiveHost
        func table(_ path: String) -> [[Substring]] {
            ((try? root.readText(path, limit: 16 << 20)) ?? "").split(separator: "\n").map {
                $0.split(separator: ":", omittingEmptySubsequences: false)
            }
        }
        passwd = table("/etc/passwd")
        group = table("/etc/group")
    }

    func name(uid: Int) -> String? {
        passwd.first { $0.count > 2 && Int($0[2]) == uid }.map { String($0[0]) }
    }

    /// The group's supplementary members from the system's user database (NSS), empty when it has no such
    /// group; nil when the root is not this host's, whose database is not the root's.
    func directoryMembers(ofGroup name: String) -> [String]? {
        guard live else { return nil }
        var entry = GroupEntry()
        var found: UnsafeMutablePointer<GroupEntry>?
        var buffer = [CChar](repeating: 0, count: 64 << 10)
        guard getgrnam_r(name, &entry, &buffer, buffer.count, &found) == 0, found != nil else { return [] }
        var members: [String] = []
        var cursor = entry.gr_mem
        while let member = cursor?.pointee, members.count < 4096 {
            members.append(String(cString: member))
            cursor = cursor?.advanced(by: 1)
        }
        return members
    }

    /// Supplementary members and users whose primary group it is; nil when the group is not in /etc/group.
    func members(ofGroup name: String) -> [String]? {
        guard let entry = group.first(where: { $0.count > 3 && $0[0] == name }) else { return nil }
        let gid = Int(entry[2])
        let listed = entry[3].split(separator: ",").map(String.init)
        let primary = passwd.filter { $0.count > 3 && Int($0[3]) == gid }.map { String($0[0]) }
        return listed + primary
    }
}
