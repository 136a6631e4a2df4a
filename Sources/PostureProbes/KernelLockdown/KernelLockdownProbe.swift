import PostureLinux
import PostureModel

/// Kernel lockdown mode from securityfs: the active mode is the bracketed one, `none [integrity] …`.
public struct KernelLockdownProbe: Probe {
    static let path = "/sys/kernel/security/lockdown"

    public init() {}

    public func collect(in context: ProbeContext) -> Fact<KernelLockdownFacts> {
        let root = context.root
        return .reading(Self.path) {
            guard root.exists(Self.path) else {
                throw ProbeError(
                    root.exists("/sys/kernel/security/lsm")
                        ? "the kernel has no lockdown LSM (\(Self.path) is absent)"
                        : "securityfs is not mounted at /sys/kernel/security (mount -t securityfs securityfs /sys/kernel/security)"
                )
            }
            return try Self.parse(root.readAttribute(Self.path))
        }
    }

    static func parse(_ text: String) throws -> KernelLockdownFacts {
        var active: String?
        var modes: [String] = []
        for word in text.split(separator: " ") {
            if word.hasPrefix("[") && word.hasSuffix("]") {
                let mode = String(word.dropFirst().dropLast())
                active = mode
                modes.append(mode)
            } else {
                modes.append(String(word))
            }
        }
        guard let active else { throw ProbeError("\(path) names no active mode in brackets: \(text)") }
        return KernelLockdownFacts(mode: active, available: modes)
    }
}
