import ArgumentParser
import Logging
import PostureCollector
import PostureModel
import PostureStore
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

@main
struct PostureCollectorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "posture-collector",
        abstract: "The Posture collector: enrolls devices, verifies their signed attestations, stores them.",
        discussion: """
            Exit codes: 0 success, 1 a runtime error (the message names the file or key to fix), 64 bad usage.
            Configuration: \(CollectorConfiguration.defaultPath) (every key documented in etc/posture/collector.yaml).
            """,
        subcommands: [
            Serve.self, CheckConfig.self, Token.self, Devices.self, CA.self, Events.self, PolicyCommand.self,
            APIToken.self, Waivers.self, Audit.self,
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
        return configuration
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
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "posture-collector")
        let collector = try Collector(configuration: configuration, logger: logger)
        let fingerprint = try CAFingerprint(collector.core.ca.certificate)
        let services = try collector.services { name, address in
            // One line per listener on stdout, for scripts: "listening <name> https://<address>".
            print("listening \(name) https://\(address)")
            fflush(nil)
        }
        print("ca \(configuration.stateDirectory)/ca.crt \(fingerprint)")
        fflush(nil)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
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
