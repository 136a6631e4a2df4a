import ArgumentParser
import Logging
import PostureAgent
import PostureLinux
import PostureModel
import PostureProbes
import ServiceLifecycle

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The daemon: gather, sign and deliver a report every interval until SIGTERM.",
        discussion: """
            Reports are kept in <state-dir>/spool (fsync'd) until the collector accepts them, and delivered \
            oldest first; the journal cursor advances only when the report carrying those events is \
            accepted. SIGTERM or SIGINT stop it after the current step.
            """)

    @Option(help: ArgumentHelp("State directory.", valueName: "dir")) var stateDir: String = AgentState.defaultDirectory
    @Option(help: ArgumentHelp("Time between reports (jittered by 10%).", valueName: "duration"))
    var interval = DurationArgument.minute
    @Option(help: "Stop after this many reports (default: run until SIGTERM).") var count: Int?
    @Option(help: "Spooled reports kept while the collector is unreachable.") var spoolCapacity: Int = 10_000
    @Option(help: ArgumentHelp("Read the host's files below this directory.", valueName: "dir")) var root: String = "/"
    @Option(
        name: .customLong("journal-directory"),
        help: ArgumentHelp("Read the journal files in this directory instead of the system journal.", valueName: "dir"))
    var journalDirectory: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel: String = "info"

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "postured")
        var options = AgentOptions()
        options.interval = interval.duration
        options.count = count
        options.spoolCapacity = spoolCapacity
        options.root = HostRoot(root)
        if let journalDirectory { options.journalSource = .directory(journalDirectory) }
        let agent = try Agent(state: AgentState(directory: stateDir), options: options, logger: logger)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: agent, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Enrollment, spool and delivery state of this device.")

    @Option(help: ArgumentHelp("State directory.", valueName: "dir")) var stateDir: String = AgentState.defaultDirectory

    func run() async throws {
        let state = AgentState(directory: stateDir)
        guard let enrollment = try state.enrollment() else {
            print("not enrolled (no \(stateDir)/enrollment.json)")
            throw ExitCode(3)
        }
        let spool = Spool(directory: state.spoolDirectory, capacity: .max)
        let spooled = try spool.sequences()
        print("device      \(enrollment.identity)")
        print("collector   \(enrollment.devicesURL)")
        print("enrolled    \(enrollment.enrolledAt)")
        print(
            "spooled     \(spooled.count)\(spooled.isEmpty ? "" : " (sequences \(spooled.first ?? 0)–\(spooled.last ?? 0))")"
        )
        if let gap = try spool.gap() {
            print("dropped     \(gap.count) (sequences \(gap.firstSequence)–\(gap.lastSequence))")
        }
        print("cursor      \(try state.acceptedCursor() ?? "none yet")")
        if let verdict = try state.verdict() {
            print("verdict     \(verdict.status.rawValue) (risk \(verdict.risk), evaluated \(verdict.evaluatedAt))")
            if let quarantine = verdict.quarantine {
                print("quarantine  by \(quarantine.by): \(quarantine.reason)")
            }
            for outcome in verdict.failing + verdict.unknown + verdict.excused {
                print(
                    "  \(outcome.state.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0))\(outcome.rule): \(outcome.observed) (wants \(outcome.expected))"
                )
            }
        } else {
            print("verdict     none yet")
        }
    }
}
