import ArgumentParser
import Logging
import PostureCollector
import PostureModel
import PostureOperator
import PostureStore
import PostureSystem
import ServiceLifecycle
import SystemdJournal
import SystemdNotify

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One binary, two names: `posture-collector` and `posturectl`.
@main
enum Main {
    static func main() async {
        let arguments = Array(invokedArguments().dropFirst())
        if invokedName() == "posturectl" {
            await OperatorCtl.main(arguments)
        } else {
            await PostureCollectorCommand.main(arguments)
        }
    }
}

struct PostureCollectorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "posture-collector",
        abstract: "The Posture collector: enrolls devices, verifies their signed attestations, stores them.",
        discussion: """
            Exit codes: 0 success, 1 a runtime error (the message names the file or key to fix), 64 bad usage.
            Configuration: \(CollectorConfiguration.defaultPath) (every key documented in etc/posture/collector.yaml).
            """,
        version: postureVersion,
        subcommands: [
            Serve.self, CheckConfig.self, Token.self, Devices.self, CA.self, Events.self, PolicyCommand.self,
            APIToken.self, Waivers.self, Audit.self, Keys.self, JournalCatalogCommand.self, BackupCommand.self,
            Migrate.self, SSH.self, Access.self,
        ]
    )
}

struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (YAML). A missing default file means all defaults.")
    var config: String?

    @Option(name: .long, help: "Override stateDirectory (CA, server certificate, SQLite store).")
    var stateDir: String?

    func load() throws -> CollectorConfiguration {
        var configuration = try CollectorConfiguration.load(
            path: config ?? CollectorConfiguration.defaultPath, required: config != nil)
        if let stateDir { configuration.stateDirectory = stateDir }
        try becomeStateDirectoryOwner(configuration.stateDirectory)
        return configuration
    }
}

/// Run as root against a state directory that belongs to the service user (the package's
/// `posture-collector`), every command becomes that user first, so nothing it creates (a SQLite WAL, a
/// certificate) ends up owned by root where the service could no longer open it.
func becomeStateDirectoryOwner(_ directory: String) throws {
    var info = stat()
    guard geteuid() == 0, stat(directory, &info) == 0, info.st_uid != 0 else { return }
    guard setgroups(0, nil) == 0, setgid(info.st_gid) == 0, setuid(info.st_uid) == 0 else {
        throw ValidationError(
            "cannot switch to the owner (uid \(info.st_uid)) of \(directory): \(String(cString: strerror(errno)))")
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the collector until SIGTERM or SIGINT.")

    @OptionGroup var options: ConfigOptions
    @Option(help: "Override listen.enrollment (host:port; port 0 picks a free one).") var listenEnrollment: String?
    @Option(help: "Override listen.devices (host:port; port 0 picks a free one).") var listenDevices: String?
    @Option(help: "Override listen.api (host:port; port 0 picks a free one).") var listenAPI: String?
    @Option(help: "Override policy.path (the compliance policy file).") var policy: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel: String = "info"

    func run() async throws {
        var configuration = try options.load()
        if let listenEnrollment { configuration.listen.enrollment = listenEnrollment }
        if let listenDevices { configuration.listen.devices = listenDevices }
        if let listenAPI { configuration.listen.api = listenAPI }
        if let policy { configuration.policy.path = policy }
        try configuration.validate(file: options.config ?? "command line")
        let level = Logger.Level(rawValue: logLevel) ?? .info
        JournalLogHandler.bootstrap(identifier: "posture-collector", level: level)
        let logger = Logger(label: "posture-collector")
        try await Collector.waitForStore(configuration, logger: logger) { status in
            SystemdNotifier.status(status)
            SystemdNotifier.watchdogAlive()
        }
        let collector = try Collector(configuration: configuration, logger: logger)
        let fingerprint = try CAFingerprint(collector.core.ca.certificate)
        let readiness = ListenersBound(expected: 3)
        let services = try collector.services { name, address in
            // One line per listener on stdout, for scripts: "listening <name> https://<address>".
            print("listening \(name) https://\(address)")
            fflush(nil)
            await readiness.listening(name, "https://\(address)")
        }
        print("ca \(configuration.stateDirectory)/ca.crt \(fingerprint)")
        fflush(nil)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        logger.notice(
            "collector starting",
            metadata: ["posture.event": "collector-started", "posture.version": "\(postureVersion)"])
        try await group.run()
        logger.notice("collector stopped", metadata: ["posture.event": "collector-stopped"])
    }
}

/// Tells systemd (Type=notify) the collector is ready once every listener is bound, naming them in the
/// unit's status line.
actor ListenersBound {
    let expected: Int
    var listeners: [String] = []

    init(expected: Int) { self.expected = expected }

    func listening(_ name: String, _ url: String) {
        listeners.append("\(name) \(url)")
        if listeners.count == expected {
            SystemdNotifier.ready(status: "listening: " + listeners.joined(separator: ", "))
        }
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate the configuration and print it with defaults filled in.")
    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let configuration = try options.load()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(configuration), as: UTF8.self))
    }
}

struct CA: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca", abstract: "The collector's CA.", subcommands: [Fingerprint.self])

    struct Fingerprint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the CA pin for `postured enroll --ca-fingerprint` (creating the CA if needed).")
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let configuration = try options.load()
            let ca = try CertificateAuthority.loadOrCreate(configuration, now: Date())
            print(try CAFingerprint(ca.certificate))
        }
    }
}
