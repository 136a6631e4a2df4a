import ArgumentParser
import Glibc
import PostureModel
import PostureSystem

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Where the collector's API is and how to authenticate: flags, then the environment, then
/// `~/.config/posture/posturectl.conf` (`key = value` lines: collector, token-file, token, ca).
struct OperatorOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The collector's API listener, e.g. https://collector:8445 ($POSTURE_COLLECTOR).", valueName: "url"))
    var collector: String?
    @Option(
        help: ArgumentHelp(
            "A file holding the API token ($POSTURE_TOKEN_FILE; $POSTURE_TOKEN holds the token itself).",
            valueName: "file"))
    var tokenFile: String?
    @Option(
        help: ArgumentHelp(
            "The collector's CA certificate, PEM ($POSTURE_CA; default: the system's roots).", valueName: "file"))
    var ca: String?
    @Option(
        help: ArgumentHelp(
            "The settings file ($POSTURE_CONFIG; default ~/.config/posture/posturectl.conf).", valueName: "file"))
    var config: String?

    func resolve() throws -> OperatorSettings {
        let environment = ProcessInfo.processInfo.environment
        let variable = { (name: String) in environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        let path = config ?? variable("POSTURE_CONFIG") ?? OperatorSettings.defaultPath(environment)
        let file = try OperatorSettings.read(path, explicit: config != nil || variable("POSTURE_CONFIG") != nil)
        guard let url = collector ?? variable("POSTURE_COLLECTOR") ?? file["collector"] else {
            throw OperatorError(
                "no collector URL: pass --collector https://HOST:8445, set POSTURE_COLLECTOR, or write `collector = https://HOST:8445` in \(path)",
                exitCode: 64)
        }
        guard url.hasPrefix("https://") else {
            throw OperatorError(
                "the collector URL \(url) must start with https:// (the API listener is TLS only)", exitCode: 64)
        }
        // Flag, then environment, then file; an empty variable counts as unset.
        var token: String?
        if let tokenPath = tokenFile ?? variable("POSTURE_TOKEN_FILE") {
            token = try OperatorSettings.secret(OperatorSettings.expand(tokenPath, environment), what: "token file")
        } else if let inline = variable("POSTURE_TOKEN") {
            token = inline
        } else if let tokenPath = file["token-file"] {
            token = try OperatorSettings.secret(OperatorSettings.expand(tokenPath, environment), what: "token file")
        } else if let inline = file["token"] {
            try OperatorSettings.requirePrivate(path, what: "\(path), which holds `token`")
            token = inline
        }
        guard let token, !token.isEmpty else {
            throw OperatorError(
                "no API token: pass --token-file FILE, set POSTURE_TOKEN, or write `token-file = FILE` in \(path); create one on the collector with `posture-collector apitoken create --name $USER --scope fleet:read --scope fleet:write`",
                exitCode: 64)
        }
        var caPEM: String?
        let caPath = (ca ?? variable("POSTURE_CA") ?? file["ca"]).map { OperatorSettings.expand($0, environment) }
        if let expanded = caPath {
            guard let bytes = try? DurableFile.read(expanded), !bytes.isEmpty else {
                throw OperatorError(
                    "cannot read the CA certificate \(expanded); copy the collector's CA certificate (/var/lib/posture-collector/ca.crt on the collector host)",
                    exitCode: 64)
            }
            caPEM = String(decoding: bytes, as: UTF8.self)
        }
        return OperatorSettings(collector: url, token: token, caPEM: caPEM, caPath: caPath)
    }
}

struct OperatorSettings: Sendable {
    var collector: String
    var token: String
    /// nil: the system's roots verify the collector (a publicly trusted certificate).
    var caPEM: String?
    var caPath: String?

    static let keys = ["collector", "token", "token-file", "ca"]

    static func defaultPath(_ environment: [String: String]) -> String {
        if let base = environment["XDG_CONFIG_HOME"], !base.isEmpty { return base + "/posture/posturectl.conf" }
        return (environment["HOME"] ?? "") + "/.config/posture/posturectl.conf"
    }

    /// `key = value` lines; `#` comments. A missing default file is no settings; a named one must exist.
    static func read(_ path: String, explicit: Bool) throws -> [String: String] {
        guard let bytes = try? DurableFile.read(path) else {
            if explicit { throw OperatorError("cannot read the settings file \(path)", exitCode: 64) }
            return [:]
        }
        // It names where the token goes: nobody else may change it.
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw OperatorError("cannot check the settings file \(path) (stat failed)", exitCode: 64)
        }
        if info.st_mode & 0o022 != 0 {
            throw OperatorError(
                "the settings file \(path) is writable by others (mode \(String(info.st_mode & 0o7777, radix: 8))); run `chmod go-w \(path)`",
                exitCode: 64)
        }
        var values: [String: String] = [:]
        for (index, raw) in String(decoding: bytes, as: UTF8.self).split(
            separator: "\n", omittingEmptySubsequences: false
        ).enumerated() {
            let line = raw.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                // The line is not echoed: it may be a token written the wrong way.
                throw OperatorError(
                    "\(path):\(index + 1): expected `key = value` (keys: \(keys.joined(separator: ", ")))", exitCode: 64
                )
            }
            let key = line[..<equals].trimmingWhitespace()
            guard keys.contains(key) else {
                throw OperatorError(
                    "\(path):\(index + 1): unknown key '\(key)'; the keys are \(keys.joined(separator: ", "))",
                    exitCode: 64)
            }
            values[key] = line[line.index(after: equals)...].trimmingWhitespace()
        }
        return values
    }

    static func expand(_ path: String, _ environment: [String: String]) -> String {
        path.hasPrefix("~/") ? (environment["HOME"] ?? "") + path.dropFirst(1) : path
    }

    /// A secret's file: it must exist and be readable by its owner alone (as ssh insists for keys).
    static func secret(_ path: String, what: String) throws -> String {
        guard let bytes = try? DurableFile.read(path) else {
            throw OperatorError("cannot read the \(what) \(path)", exitCode: 64)
        }
        try requirePrivate(path, what: "the \(what) \(path)")
        return String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
    }

    static func requirePrivate(_ path: String, what: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw OperatorError("cannot check the permissions of \(what) (stat failed)", exitCode: 64)
        }
        if info.st_mode & 0o077 != 0 {
            let mode = Int(info.st_mode & 0o7777)
            throw OperatorError(
                "\(what) is readable by others (mode \(String(mode, radix: 8))); run `chmod 600 \(path)`",
                exitCode: 64)
        }
    }
}

/// A failure with the exit code `posturectl --help` documents, printed as `posturectl: message`.
struct OperatorError: Error, CustomStringConvertible {
    var message: String
    var exitCode: Int32
    var description: String { message }

    init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }
}
