import PostureLinux

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Which repositories dnf uses, from its `.repo` files as dnf 4 and dnf 5 read them: INI sections `[id]` with
/// `enabled` (on unless `0`, `false`, `no` or `off`) and `priority` (99 unless given). The directories in
/// `reposdir` order, each one's files by name (dnf 5; dnf 4 sorts all by path, the same where one directory is
/// used, as on RHEL); an id defined twice keeps its first definition (dnf 4 warns and keeps it). Then dnf 5's
/// override files, whose sections are glob patterns over ids (`[*]`, `[fedora-*]`), applied in file-name order,
/// `/etc` shadowing the same name in `/usr/share` (what `dnf5 config-manager setopt fedora.enabled=0` writes).
enum DnfConfiguration {
    struct Repository: Equatable {
        var enabled = true
        var priority = 99
    }

    static let directories = ["/etc/yum.repos.d", "/etc/distro.repos.d", "/usr/share/dnf5/repos.d"]
    static let overrideDirectories = ["/etc/dnf/repos.override.d", "/usr/share/dnf5/repos.override.d"]

    /// The enabled repositories by id.
    static func read(_ root: HostRoot) -> [String: Repository] {
        var repositories: [String: Repository] = [:]
        for text in texts(root, paths(root, directories)) {
            var defined: Set<String> = []
            for (section, settings) in sections(text) where repositories[section] == nil || defined.contains(section) {
                defined.insert(section)
                var repository = repositories[section] ?? Repository()
                apply(settings, to: &repository)
                repositories[section] = repository
            }
        }
        for text in texts(root, firstOfEachName(root, overrideDirectories)) {
            for (pattern, settings) in sections(text) {
                for (id, var repository) in repositories where fnmatch(pattern, id, 0) == 0 {
                    apply(settings, to: &repository)
                    repositories[id] = repository
                }
            }
        }
        return repositories.filter(\.value.enabled)
    }

    /// Every `.repo` file that can change the answer, unread: what the patch probe's kept answer is checked
    /// against at each report.
    static func files(_ root: HostRoot) -> [String] { paths(root, directories + overrideDirectories) }

    /// The `.repo` files of the directories, directory by directory, each one's by name.
    private static func paths(_ root: HostRoot, _ directories: [String]) -> [String] {
        directories.flatMap { directory in
            ((try? root.contentsOfDirectory(directory)) ?? []).filter { $0.hasSuffix(".repo") }.map {
                "\(directory)/\($0)"
            }
        }
    }

    /// The readable ones' texts, in order.
    private static func texts(_ root: HostRoot, _ paths: [String]) -> [String] {
        paths.compactMap { try? root.readText($0, limit: 1 << 20) }
    }

    /// The `.repo` files of the directories in file-name order, a name in an earlier directory hiding the same
    /// name in later ones.
    private static func firstOfEachName(_ root: HostRoot, _ directories: [String]) -> [String] {
        var chosen: [String: String] = [:]
        for directory in directories.reversed() {
            for name in (try? root.contentsOfDirectory(directory)) ?? [] where name.hasSuffix(".repo") {
                chosen[name] = "\(directory)/\(name)"
            }
        }
        return chosen.sorted { $0.key < $1.key }.map(\.value)
    }

    private static func apply(_ settings: [(String, String)], to repository: inout Repository) {
        for (key, value) in settings {
            switch key {
            case "enabled": repository.enabled = !["0", "false", "no", "off"].contains(value.lowercased())
            case "priority": if let priority = Int(value) { repository.priority = priority }
            default: continue
            }
        }
    }

    /// Sections and their `key = value` lines, in order; comments (`#`, `;`) and other lines skipped.
    static func sections(_ text: String) -> [(String, [(String, String)])] {
        var result: [(String, [(String, String)])] = []
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmedOfSpace
            if line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                result.append((String(line.dropFirst().dropLast()).trimmedOfSpace, []))
            } else if !result.isEmpty, let equals = line.firstIndex(of: "=") {
                let key = line[..<equals].trimmedOfSpace
                result[result.count - 1].1.append((key, line[line.index(after: equals)...].trimmedOfSpace))
            }
        }
        return result
    }
}
