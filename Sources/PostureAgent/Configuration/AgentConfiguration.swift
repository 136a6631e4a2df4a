import PostureModel
import PostureSystem

/// `/etc/posture/agent.yaml`: how the agent runs and enforces (every key in `etc/posture/agent.yaml`). The
/// command line (`/etc/default/postured`'s POSTURED_OPTIONS) overrides a key it also sets. An unknown key or a
/// malformed value is refused with the file, the line and the key.
public struct AgentConfiguration: Sendable, Equatable {
    public static let defaultPath = "/etc/posture/agent.yaml"

    /// Time between reports (jittered by 10%): 10s to 1d.
    public var interval: Duration = .seconds(60)
    /// Reports kept while the collector is unreachable: 10 to 1,000,000.
    public var spoolCapacity = 10_000
    public var logLevel = "info"
    /// Enrollment settings for an agent not enrolled yet.
    public var enrollmentConfig = EnrollmentConfig.defaultPath
    public var enforcement = EnforcementOptions()
    public var access = AccessOptions()
    /// The TCTI of the TPM holding the device key, when it is not where enrollment found it.
    public var tpm: String?
    /// The firmware's boot event log sent beside each quote (TCG crypto-agile format).
    public var tpmEventLog = AgentConfiguration.kernelEventLog
    public static let kernelEventLog = "/sys/kernel/security/tpm0/binary_bios_measurements"

    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error"]

    public init() {}

    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The file, or the defaults when `path` is the default and no such file exists.
    public static func load(_ path: String = defaultPath) throws(Refusal) -> AgentConfiguration {
        let bytes: [UInt8]
        do {
            bytes = try PlainFile.readBytes(path, limit: 1 << 20)
        } catch {
            if path == defaultPath, error.code == .notFound { return AgentConfiguration() }
            throw Refusal(description: "cannot read \(path): \(error); check the path (--config) and its permissions")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw Refusal(description: "\(path) is not UTF-8 text")
        }
        return try parse(text, file: path)
    }

    static let keys: Set<String> = [
        "interval", "spoolCapacity", "logLevel", "enrollmentConfig", "enforcement", "enforcement.mode",
        "enforcement.exemptUsers", "enforcement.exemptGroups", "enforcement.notifyFor",
        "enforcement.lockDuringNotice", "enforcement.keepSessions", "enforcement.disableAccounts",
        "enforcement.enforceUnknown", "enforcement.offline", "enforcement.keepVerdictFor",
        "enforcement.nologinPath", "access", "access.socket", "access.revokedKeysFile", "access.trustedUserCAKeysFile",
        "access.krlRefresh",
        "access.sudoersDirectory", "access.grantRefresh", "tpm", "tpmEventLog",
    ]

    public static func parse(_ text: String, file: String) throws(Refusal) -> AgentConfiguration {
        let document: ConfigurationText
        do {
            document = try ConfigurationText(text)
        } catch {
            throw Refusal(description: "\(file):\(error.line): \(error.message)")
        }
        for (key, line) in document.keys where !keys.contains(key) {
            throw Refusal(
                description:
                    "\(file):\(line): unknown key \(key); every key is in /usr/share/doc/posture-agent/agent.yaml (etc/posture/agent.yaml)"
            )
        }
        var reader = Reader(document: document, file: file)
        var configuration = AgentConfiguration()
        try reader.duration("interval", into: &configuration.interval, within: 10...86400)
        try reader.integer("spoolCapacity", into: &configuration.spoolCapacity, within: 10...1_000_000)
        try reader.choice("logLevel", into: &configuration.logLevel, from: logLevels)
        try reader.text("enrollmentConfig", into: &configuration.enrollmentConfig)
        var enforcement = EnforcementOptions()
        var mode = enforcement.mode.rawValue
        try reader.choice("enforcement.mode", into: &mode, from: EnforcementOptions.Mode.allCases.map(\.rawValue))
        enforcement.mode = EnforcementOptions.Mode(rawValue: mode) ?? .off
        var users: [String] = []
        try reader.list("enforcement.exemptUsers", into: &users)
        enforcement.exemptUsers = ["root"] + users.filter { $0 != "root" }
        try reader.list("enforcement.exemptGroups", into: &enforcement.exemptGroups)
        try reader.duration("enforcement.notifyFor", into: &enforcement.notifyFor, within: 0...3600)
        try reader.flag("enforcement.lockDuringNotice", into: &enforcement.lockDuringNotice)
        var keepSessions = !enforcement.terminateSessions
        try reader.flag("enforcement.keepSessions", into: &keepSessions)
        enforcement.terminateSessions = !keepSessions
        try reader.flag("enforcement.disableAccounts", into: &enforcement.disableAccounts)
        try reader.flag("enforcement.enforceUnknown", into: &enforcement.enforceUnknown)
        var offline = enforcement.offline.rawValue
        try reader.choice(
            "enforcement.offline", into: &offline, from: EnforcementOptions.Offline.allCases.map(\.rawValue))
        enforcement.offline = EnforcementOptions.Offline(rawValue: offline) ?? .closed
        try reader.duration(
            "enforcement.keepVerdictFor", into: &enforcement.keepLastVerdictFor, within: 0...(30 * 86400))
        try reader.text("enforcement.nologinPath", into: &enforcement.nologinPath)
        configuration.enforcement = enforcement
        var socket = ""
        try reader.text("access.socket", into: &socket)
        if !socket.isEmpty { configuration.access.socket = socket }
        var revokedKeys = ""
        try reader.text("access.revokedKeysFile", into: &revokedKeys)
        if !revokedKeys.isEmpty { configuration.access.revokedKeysFile = revokedKeys }
        var trustedCA = ""
        try reader.text("access.trustedUserCAKeysFile", into: &trustedCA)
        if !trustedCA.isEmpty { configuration.access.trustedUserCAKeysFile = trustedCA }
        try reader.duration("access.krlRefresh", into: &configuration.access.krlRefresh, within: 1...3600)
        var sudoers = ""
        try reader.text("access.sudoersDirectory", into: &sudoers)
        if !sudoers.isEmpty { configuration.access.sudoersDirectory = sudoers }
        try reader.duration("access.grantRefresh", into: &configuration.access.grantRefresh, within: 1...3600)
        var tpm = ""
        try reader.text("tpm", into: &tpm)
        if !tpm.isEmpty { configuration.tpm = tpm }
        try reader.text("tpmEventLog", into: &configuration.tpmEventLog)
        return configuration
    }

    /// One typed read per key, each refusal naming the file, line, key and what to write instead.
    private struct Reader {
        let document: ConfigurationText
        let file: String

        func refuse(_ key: String, _ message: String) -> Refusal {
            Refusal(description: "\(file):\(document.entries[key]?.line ?? 0): \(key): \(message)")
        }

        func scalar(_ key: String) throws(Refusal) -> String? {
            guard let entry = document.entries[key] else { return nil }
            guard case .scalar(let value) = entry.value else { throw refuse(key, "a single value, not a list") }
            return value
        }

        func text(_ key: String, into value: inout String) throws(Refusal) {
            guard let text = try scalar(key) else { return }
            guard text.hasPrefix("/") else { throw refuse(key, "'\(text)' is not an absolute path") }
            value = text
        }

        func choice(_ key: String, into value: inout String, from allowed: [String]) throws(Refusal) {
            guard let text = try scalar(key) else { return }
            guard allowed.contains(text) else {
                throw refuse(key, "'\(text)' is not one of \(allowed.joined(separator: ", "))")
            }
            value = text
        }

        func flag(_ key: String, into value: inout Bool) throws(Refusal) {
            guard let text = try scalar(key) else { return }
            guard text == "true" || text == "false" else { throw refuse(key, "'\(text)': write true or false") }
            value = text == "true"
        }

        func integer(_ key: String, into value: inout Int, within range: ClosedRange<Int>) throws(Refusal) {
            guard let text = try scalar(key) else { return }
            guard let number = Int(text), range.contains(number) else {
                throw refuse(key, "'\(text)': a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            value = number
        }

        func duration(_ key: String, into value: inout Duration, within seconds: ClosedRange<Double>) throws(Refusal) {
            guard let text = try scalar(key) else { return }
            guard let parsed = DurationText(text), seconds.contains(parsed.seconds) else {
                throw refuse(
                    key,
                    "'\(text)': a duration from \(Int(seconds.lowerBound))s to \(Int(seconds.upperBound))s, e.g. 30s, 15m, 4h"
                )
            }
            value = parsed.duration
        }

        func list(_ key: String, into value: inout [String]) throws(Refusal) {
            guard let entry = document.entries[key] else { return }
            switch entry.value {
            case .list(let items): value = items
            case .scalar(let item): value = [item]
            }
        }
    }
}
