import PostureLinux
import PostureModel

/// Linux security modules: the active list from securityfs, AppArmor's state and profile modes, and
/// SELinux's enforcement.
public struct SecurityModulesProbe: Probe {
    static let source = "/sys/kernel/security/lsm, /sys/module/apparmor, /sys/fs/selinux"

    public init() {}

    public func collect(in context: ProbeContext) -> Fact<SecurityModuleFacts> {
        let root = context.root
        return .reading(Self.source) {
            let active: [String]
            if let list = try? root.readAttribute("/sys/kernel/security/lsm") {
                active = list.split(separator: ",").map(String.init)
            } else if !root.exists("/sys/module/apparmor") && !root.exists("/sys/fs/selinux/enforce") {
                throw ProbeError(
                    "securityfs is not mounted at /sys/kernel/security (mount -t securityfs securityfs "
                        + "/sys/kernel/security) and neither AppArmor nor SELinux shows itself elsewhere")
            } else {
                active = []
            }
            return SecurityModuleFacts(active: active, appArmor: appArmor(root), selinux: selinux(root))
        }
    }

    private func appArmor(_ root: HostRoot) -> AppArmorState? {
        guard let enabled = try? root.readAttribute("/sys/module/apparmor/parameters/enabled") else { return nil }
        // Each line: "profile-name (mode)". Reading it needs root; without it, modes stay unknown.
        var profiles: [String: Int]?
        if let list = try? root.readText("/sys/kernel/security/apparmor/profiles") {
            var counts: [String: Int] = [:]
            for line in list.split(whereSeparator: \.isNewline) {
                guard let open = line.lastIndex(of: "("), line.hasSuffix(")") else { continue }
                counts[String(line[line.index(after: open)..<line.index(before: line.endIndex)]), default: 0] += 1
            }
            profiles = counts
        }
        return AppArmorState(enabled: enabled == "Y", profiles: profiles)
    }

    private func selinux(_ root: HostRoot) -> SELinuxState? {
        guard let enforce = try? root.readAttribute("/sys/fs/selinux/enforce") else { return nil }
        return SELinuxState(enforcing: enforce == "1")
    }
}
