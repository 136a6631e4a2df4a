import ArgumentParser
import Logging
import PostureAgent
import PostureLinux
import PostureModel
import PostureProbes
import ServiceLifecycle
import SystemdJournal

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The daemon: gather, sign and deliver a report every interval until SIGTERM.",
        discussion: """
            Not enrolled yet, it enrolls with --enrollment-config when that file sets collector, token \
            and ca-fingerprint, else waits (and tells systemd so) until `postured enroll` has run. \
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
    @Option(
        help: ArgumentHelp(
            "Not enrolled yet: enroll with the collector, token and ca-fingerprint in this file, or wait.",
            valueName: "file"))
    var enrollmentConfig: String = EnrollmentConfig.defaultPath
    @OptionGroup(title: "Enforcement") var enforcement: EnforcementArguments

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        JournalLogHandler.bootstrap(identifier: "postured", level: level)
        let logger = Logger(label: "postured")
        var options = AgentOptions()
        options.interval = interval.duration
        options.count = count
        options.spoolCapacity = spoolCapacity
        options.root = HostRoot(root)
        if let journalDirectory { options.journalSource = .directory(journalDirectory) }
        options.enforcement = try enforcement.options()
        let state = AgentState(directory: stateDir)
        // A one-shot run (--count) is a person at a shell: not enrolled is an error, not a wait.
        if count != nil { _ = try state.requireEnrollment() }
        let daemon = AgentDaemon(
            state: state, options: options, enrollmentConfigPath: enrollmentConfig, logger: logger)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: daemon, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

struct ReleaseAccess: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release-access",
        abstract: "Undo what enforcement put in place (nologin file, locked accounts), whatever the verdict.",
        discussion: """
            For when the agent goes away: the package runs it before removal, so no one stays locked out \
            by an agent that no longer runs. Stop postured first, or it acts on the next verdict again. \
            Only what postured recorded in <state-dir>/enforcement.json is undone; it is written to the journal.
            """)

    @Option(help: ArgumentHelp("State directory.", valueName: "dir")) var stateDir: String = AgentState.defaultDirectory
    @Option(help: ArgumentHelp("The nologin file pam_nologin reads.", valueName: "path"))
    var nologinPath: String = "/run/nologin"
    @Option(help: "Why, for the journal.") var reason: String = "released by hand (postured release-access)"

    func run() async throws {
        let state = AgentState(directory: stateDir)
        var options = EnforcementOptions()
        options.mode = .enforce
        options.nologinPath = nologinPath
        let enforcer = Enforcer(
            options: options, logins: LogindClient(), statePath: state.enforcementPath,
            logger: Logger(label: "postured"))
        await enforcer.release(why: reason)
        for record in await enforcer.records { print(record.message) }
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
