import PostureLinux
import PostureModel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// OpenSSH server settings as sshd would apply them, read from `/etc/ssh/sshd_config` and its includes.
public struct SSHDProbe: Probe {
    static let mainConfig = "/etc/ssh/sshd_config"

    public init() {}

    public func collect(in context: ProbeContext) -> Fact<SSHDFacts> {
        let root = context.root
        return .reading(Self.mainConfig) {
            let installed = root.exists("/usr/sbin/sshd")
            var config = SSHDConfig()
            if root.exists(Self.mainConfig) {
                try config.read(Self.mainConfig, root: root, depth: 0)
            }
            return config.facts(installed: installed)
        }
    }
}

/// sshd_config(5) semantics that matter here: keywords are case-insensitive, the first value obtained
/// wins, `Include` reads files (globs, relative to /etc/ssh) in place, and lines after `Match` apply
/// only to matching connections until the next `Match` (`Match all` applies to all).
struct SSHDConfig {
    private(set) var values: [String: String] = [:]
    private(set) var files: [String] = []
    private(set) var matchBlocks = 0
    private var inConditionalMatch = false

    mutating func read(_ path: String, root: HostRoot, depth: Int) throws {
        guard depth < 16 else { throw ProbeError("\(path): Include nested deeper than 16") }
        files.append(path)
        let text = try root.readText(path, limit: 1 << 20)
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") { continue }
            let (keyword, argument) = Self.split(line)
            guard !keyword.isEmpty else {
                throw ProbeError("\(path) line \(number + 1): no keyword in \"\(line.prefix(60))\"")
            }
            switch keyword {
            case "match":
                matchBlocks += 1
                inConditionalMatch = argument.lowercased() != "all"
            case "include":
                for pattern in argument.split(separator: " ") {
                    let absolute = pattern.hasPrefix("/") ? String(pattern) : "/etc/ssh/\(pattern)"
                    for file in try Self.expand(absolute, root: root) {
                        try read(file, root: root, depth: depth + 1)
                    }
                }
            default:
                if !inConditionalMatch && values[keyword] == nil { values[keyword] = argument }
            }
        }
    }

    func facts(installed: Bool) -> SSHDFacts {
        SSHDFacts(
            installed: installed,
            permitRootLogin: values["permitrootlogin"]?.lowercased() ?? "prohibit-password",
            passwordAuthentication: flag("passwordauthentication", default: true),
            // ChallengeResponseAuthentication is the deprecated alias of KbdInteractiveAuthentication.
            kbdInteractiveAuthentication: values["kbdinteractiveauthentication"] != nil
                ? flag("kbdinteractiveauthentication", default: true)
                : flag("challengeresponseauthentication", default: true),
            pubkeyAuthentication: flag("pubkeyauthentication", default: true),
            permitEmptyPasswords: flag("permitemptypasswords", default: false),
            x11Forwarding: flag("x11forwarding", default: false),
            maxAuthTries: values["maxauthtries"].flatMap { Int($0) } ?? 6,
            matchBlocks: matchBlocks,
            files: files)
    }

    private func flag(_ keyword: String, default value: Bool) -> Bool {
        guard let raw = values[keyword]?.lowercased() else { return value }
        return raw == "yes"
    }

    private static func split(_ line: Substring) -> (String, String) {
        let keywordEnd = line.firstIndex(where: { $0 == " " || $0 == "\t" || $0 == "=" }) ?? line.endIndex
        let keyword = line[..<keywordEnd].lowercased()
        var rest = line[keywordEnd...].drop(while: { $0 == " " || $0 == "\t" })
        if rest.first == "=" { rest = rest.dropFirst().drop(while: { $0 == " " || $0 == "\t" }) }
        var argument = String(rest)
        if argument.count >= 2, argument.hasPrefix("\""), argument.hasSuffix("\"") {
            argument = String(argument.dropFirst().dropLast())
        }
        return (keyword, argument)
    }

    /// Expands a glob in the last path component, sorted as glob(3) sorts; no match is not an error.
    private static func expand(_ pattern: String, root: HostRoot) throws -> [String] {
        guard pattern.contains(where: { "*?[".contains($0) }) else {
            return root.exists(pattern) ? [pattern] : []
        }
        guard let slash = pattern.lastIndex(of: "/") else { return [] }
        let directory = String(pattern[..<slash])
        let namePattern = String(pattern[pattern.index(after: slash)...])
        guard let names = try? root.contentsOfDirectory(directory) else { return [] }
        return names.filter { fnmatch(namePattern, $0, FNM_PERIOD) == 0 }.map { "\(directory)/\($0)" }
    }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return self[endIndex...]
        }
        return self[first...last]
    }
}
