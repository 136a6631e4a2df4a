import PostureLinux
import PostureModel

/// OS identity: os-release, kernel, architecture, machine and boot IDs, uptime, reboot-required.
public struct OSProbe: Probe {
    public init() {}

    public func collect(in context: ProbeContext) -> OSFacts {
        let root = context.root
        return OSFacts(
            osRelease: osRelease(root),
            kernelRelease: .reading("/proc/sys/kernel/osrelease") {
                try root.readAttribute("/proc/sys/kernel/osrelease")
            },
            kernelVersion: .reading("/proc/sys/kernel/version") { try root.readAttribute("/proc/sys/kernel/version") },
            architecture: .reading("/proc/sys/kernel/arch") { try root.readAttribute("/proc/sys/kernel/arch") },
            machineID: .reading("/etc/machine-id") {
                let id = try root.readAttribute("/etc/machine-id")
                guard id.count == 32, id.allSatisfy(\.isHexDigit) else {
                    throw ProbeError(
                        "/etc/machine-id is not 32 hex digits (see machine-id(5); systemd-machine-id-setup makes one)")
                }
                return id.lowercased()
            },
            bootID: .reading("/proc/sys/kernel/random/boot_id") {
                try root.readAttribute("/proc/sys/kernel/random/boot_id")
            },
            uptimeSeconds: .reading("/proc/uptime") {
                let text = try root.readAttribute("/proc/uptime")
                guard let first = text.split(separator: " ").first, let seconds = Double(first) else {
                    throw ProbeError("/proc/uptime does not start with a number: \(text.prefix(40))")
                }
                return seconds
            },
            rebootRequired: rebootRequired(root)
        )
    }

    private func osRelease(_ root: HostRoot) -> Fact<[String: String]> {
        // os-release(5): /etc/os-release takes precedence, /usr/lib/os-release is the fallback.
        for path in ["/etc/os-release", "/usr/lib/os-release"] {
            guard let text = try? root.readText(path, limit: 64 << 10) else { continue }
            return .observed(OSReleaseParser.parse(text), source: path)
        }
        return .unavailable(
            reason: "neither /etc/os-release nor /usr/lib/os-release is readable", source: "/etc/os-release")
    }

    private func rebootRequired(_ root: HostRoot) -> Fact<RebootRequired> {
        var source = "/run/reboot-required, /lib/modules"
        var reasons: [String] = []
        // Debian and Ubuntu packages touch this flag file (and list themselves in the .pkgs file).
        if root.exists("/run/reboot-required") {
            let packages =
                (try? root.readText("/run/reboot-required.pkgs"))?
                .split(whereSeparator: \.isNewline).map(String.init) ?? []
            reasons.append(
                packages.isEmpty
                    ? "/run/reboot-required exists"
                    : "/run/reboot-required exists (packages: \(Set(packages).sorted().joined(separator: ", ")))")
        }
        // rpm systems have no flag file: dnf's `needs-restarting -r` compares core packages' install times
        // with the boot.
        if !DpkgPatchLevel.manages(root), case .sqlite(let path) = RpmDatabase.locate(root) {
            source += ", \(path)"
            if let boot = bootTime(root),
                let updated = try? RpmDatabase.cachedRead(root, path: path).updatedSince(boot: boot), !updated.isEmpty
            {
                reasons.append("updated since boot (\(path)): \(updated.joined(separator: ", "))")
            }
        }
        // A newer kernel installed than the one running: its fixes are not in effect until a reboot.
        if let running = try? root.readAttribute("/proc/sys/kernel/osrelease"),
            let installed = try? root.contentsOfDirectory("/lib/modules"), installed.contains(running),
            let newest = KernelRelease.newestInstalled(root, like: running),
            KernelRelease.isOrderedBefore(running, newest)
        {
            reasons.append("kernel \(newest) is installed but \(running) is running")
        }
        return .observed(RebootRequired(required: !reasons.isEmpty, reasons: reasons), source: source)
    }

    /// `btime` of `/proc/stat`: when the host booted, in seconds since the epoch.
    private func bootTime(_ root: HostRoot) -> Int64? {
        guard let text = try? root.readText("/proc/stat", limit: 1 << 20) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Int64(line.dropFirst(6).trimmedOfSpace)
        }
        return nil
    }
}

/// Orders kernel release strings the way dpkg would for the common forms (`6.1.0-27-amd64`).
enum KernelRelease {
    /// The newest kernel with modules under `/lib/modules` of `running`'s flavour: only those compare
    /// (`686` and `686-pae`, `amd64` and `rt-amd64` are different kernels, whatever their numbers).
    static func newestInstalled(_ root: HostRoot, like running: String) -> String? {
        let flavour = self.flavour(running)
        return ((try? root.contentsOfDirectory("/lib/modules")) ?? [])
            .filter { root.exists("/lib/modules/\($0)/modules.dep") && self.flavour($0) == flavour }
            .max(by: isOrderedBefore)
    }

    /// What follows the version and ABI numbers: `6.1.0-27-686-pae` → `686-pae`, `6.5.0-1-generic` → `generic`.
    /// rpm-built kernels carry a distribution tag that changes with updates (`5.14.0-427.13.1.el9_4.x86_64`,
    /// `6.11.4-301.fc41.x86_64+debug`): their flavour is the architecture and any `+variant` after it.
    static func flavour(_ release: String) -> Substring {
        let parts = release.split(separator: ".")
        let isDistributionTag = { (part: Substring) in
            ["el", "fc", "amzn"].contains { part.hasPrefix($0) && part.dropFirst($0.count).first?.isNumber == true }
        }
        if parts.count > 2, parts.dropLast().contains(where: isDistributionTag), let last = parts.last { return last }
        var rest = Substring(release)
        rest = rest.drop { $0.isNumber || $0 == "." }
        if rest.first == "-", rest.dropFirst().first?.isNumber == true {
            rest = rest.dropFirst().drop { $0.isNumber || $0 == "." }
        }
        return rest.first == "-" ? rest.dropFirst() : rest
    }

    static func isOrderedBefore(_ a: String, _ b: String) -> Bool {
        let left = numbers(a)
        let right = numbers(b)
        for (x, y) in zip(left, right) where x != y { return x < y }
        return left.count < right.count
    }

    private static func numbers(_ release: String) -> [Int] {
        release.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
    }
}
