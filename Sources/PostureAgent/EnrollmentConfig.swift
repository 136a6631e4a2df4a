import PostureLinux
import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Unattended enrollment (`/etc/posture/enrollment.conf`, mode 0600): what `postured enroll` takes on its
/// command line, as `key = value` lines, so a package install, cloud-init or a configuration manager can
/// enroll a device without a shell on it. The daemon enrolls with it when the state directory is not
/// enrolled yet; a file with every line commented out (as shipped) means "wait for a manual enrollment".
public struct EnrollmentConfig: Sendable, Equatable {
    public static let defaultPath = "/etc/posture/enrollment.conf"

    public var collector: String
    public var token: String
    public var caFingerprint: CAFingerprint

    /// The file's settings; nil when it is absent or sets nothing. Errors name the file, line and key.
    public static func load(path: String) throws -> EnrollmentConfig? {
        guard let bytes = try DurableFile.read(path) else { return nil }
        return try parse(String(decoding: bytes, as: UTF8.self), file: path)
    }

    static let keys = ["collector", "token", "ca-fingerprint"]

    public static func parse(_ text: String, file: String) throws -> EnrollmentConfig? {
        var values: [String: String] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw AgentError(.usage, "\(file):\(index + 1): expected `key = value`, found '\(line)'")
            }
            let key = line[..<equals].trimmingWhitespace()
            let value = line[line.index(after: equals)...].trimmingWhitespace()
            guard keys.contains(key) else {
                throw AgentError(
                    .usage, "\(file):\(index + 1): unknown key '\(key)'; the keys are \(keys.joined(separator: ", "))")
            }
            values[key] = value
        }
        if values.isEmpty { return nil }
        for key in keys where (values[key] ?? "").isEmpty {
            throw AgentError(.usage, "\(file): '\(key)' is missing; enrollment needs \(keys.joined(separator: ", "))")
        }
        let collector = values["collector", default: ""]
        guard collector.hasPrefix("https://") else {
            throw AgentError(.usage, "\(file): collector must be an https:// URL (the collector's enrollment listener)")
        }
        guard let pin = CAFingerprint(parsing: values["ca-fingerprint", default: ""]) else {
            throw AgentError(
                .usage,
                "\(file): ca-fingerprint must be sha256: and 64 hex digits (`posture-collector ca fingerprint` prints it)"
            )
        }
        return EnrollmentConfig(collector: collector, token: values["token", default: ""], caFingerprint: pin)
    }
}
