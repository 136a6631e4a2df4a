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
    @OptionGroup(title: "Enforcement") var enforcement: EnforcementArguments

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
        options.enforcement = try enforcement.options()
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
        if let bytes = try DurableFile.read(state.enforcementPath),
            let enforcement = try? PostureReport.wireDecoder().decode(Enforcer.State.self, from: Data(bytes))
        {
            let since = enforcement.since.map { " since \($0)" } ?? ""
            print("enforcing   \(enforcement.enforcing ? "yes\(since): \(enforcement.reason ?? "")" : "no")")
            if let decision = enforcement.lastDecision { print("decision    \(decision)") }
            if enforcement.nologinWritten != nil { print("logins      blocked by postured's nologin file") }
            if !enforcement.terminatedSessions.isEmpty {
                print("ended       sessions \(enforcement.terminatedSessions.joined(separator: ", "))")
            }
        } else {
            print("enforcing   no (postured run --enforce dry-run|enforce to act on verdicts)")
        }
    }
}

/// How the daemon acts on a non-compliant verdict (off unless asked: a hand-run agent never ends sessions).
struct EnforcementArguments: ParsableArguments {
    @Option(help: "off, dry-run (decide and audit, do nothing) or enforce.") var enforce: String = "off"
    @Option(name: .customLong("exempt-user"), help: "Never touched (repeatable; root always is).")
    var exemptUsers: [String] = []
    @Option(name: .customLong("exempt-group"), help: "Members are never touched (repeatable).")
    var exemptGroups: [String] = []
    @Option(help: ArgumentHelp("Warn users (wall) this long before ending sessions.", valueName: "duration"))
    var notifyFor: String = "0s"
    @Flag(help: "Lock the sessions that will end during --notify-for.") var lockDuringNotice = false
    @Flag(help: "Only block new logins; leave open sessions.") var keepSessions = false
    @Flag(help: "Also lock the passwords of non-exempt accounts (unlocked again exactly).") var disableAccounts = false
    @Flag(help: "Act on unknown verdicts too (deny on doubt).") var enforceUnknown = false
    @Option(help: "Without a verified verdict for --keep-verdict-for: closed (take access away) or open.")
    var offline: String = "closed"
    @Option(help: ArgumentHelp("How long the last verified verdict stands offline.", valueName: "duration"))
    var keepVerdictFor: String = "4h"
    @Option(help: ArgumentHelp("The nologin file pam_nologin reads.", valueName: "path"))
    var nologinPath: String = "/run/nologin"

    func options() throws -> EnforcementOptions {
        var options = EnforcementOptions()
        guard let mode = EnforcementOptions.Mode(rawValue: enforce) else {
            throw ValidationError("--enforce \(enforce): use off, dry-run or enforce")
        }
        guard let offlineRule = EnforcementOptions.Offline(rawValue: offline) else {
            throw ValidationError("--offline \(offline): use closed or open")
        }
        guard let notify = DurationText(notifyFor), let keep = DurationText(keepVerdictFor) else {
            throw ValidationError("--notify-for and --keep-verdict-for take durations such as 30s, 15m or 4h")
        }
        options.mode = mode
        options.exemptUsers = ["root"] + exemptUsers
        options.exemptGroups = exemptGroups
        options.notifyFor = notify.duration
        options.terminateSessions = !keepSessions
        options.lockDuringNotice = lockDuringNotice
        options.disableAccounts = disableAccounts
        options.enforceUnknown = enforceUnknown
        options.offline = offlineRule
        options.keepLastVerdictFor = keep.duration
        options.nologinPath = nologinPath
        return options
    }
}
