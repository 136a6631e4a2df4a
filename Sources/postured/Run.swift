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

    @Option(
        help: ArgumentHelp(
            "The agent's configuration (every key commented in the shipped file); an option given here overrides its key.",
            valueName: "file"))
    var config: String = AgentConfiguration.defaultPath
    @Option(help: ArgumentHelp("State directory.", valueName: "dir")) var stateDir: String = AgentState.defaultDirectory
    @Option(help: ArgumentHelp("Time between reports, jittered by 10% (interval; default 60s).", valueName: "duration"))
    var interval: DurationArgument?
    @Option(help: "Stop after this many reports (default: run until SIGTERM).") var count: Int?
    @Option(help: "Spooled reports kept while the collector is unreachable (spoolCapacity; default 10000).")
    var spoolCapacity: Int?
    @Option(help: ArgumentHelp("Read the host's files below this directory.", valueName: "dir")) var root: String = "/"
    @Option(
        name: .customLong("journal-directory"),
        help: ArgumentHelp("Read the journal files in this directory instead of the system journal.", valueName: "dir"))
    var journalDirectory: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error (logLevel; default info).")
    var logLevel: String?
    @Option(
        help: ArgumentHelp(
            "Not enrolled yet: enroll with the collector, token and ca-fingerprint in this file, or wait (enrollmentConfig).",
            valueName: "file"))
    var enrollmentConfig: String?
    @OptionGroup(title: "Enforcement (the enforcement section of the configuration)") var enforcement:
        EnforcementArguments
    @Option(
        help: ArgumentHelp(
            "The unix socket posturectl asks for access on (access.socket; none by default).", valueName: "path"))
    var accessSocket: String?
    @Option(
        help: ArgumentHelp(
            "Keep the collector's SSH KRL in this file, for sshd's RevokedKeys (access.revokedKeysFile).",
            valueName: "path"))
    var revokedKeysFile: String?
    @Option(
        help: ArgumentHelp(
            "The TCTI of the TPM holding the device key, if not where enrollment found it (tpm).", valueName: "tcti"))
    var tpm: String?
    @Option(help: ArgumentHelp("How often the KRL is fetched (access.krlRefresh; default 5s).", valueName: "duration"))
    var krlRefresh: DurationArgument?
    @Option(
        help: ArgumentHelp(
            "Write time-bound sudo grants as drop-ins here (access.sudoersDirectory; /etc/sudoers.d when shipped).",
            valueName: "path"))
    var sudoersDirectory: String?
    @Option(
        help: ArgumentHelp(
            "How often grants are followed while one is in force (access.grantRefresh; default 5s).",
            valueName: "duration"))
    var grantRefresh: DurationArgument?

    func run() async throws {
        let file = try AgentConfiguration.load(config)
        let levelName = logLevel ?? file.logLevel
        guard let level = Logger.Level(rawValue: levelName) else {
            throw ValidationError(
                "--log-level \(levelName): use \(AgentConfiguration.logLevels.joined(separator: ", "))")
        }
        JournalLogHandler.bootstrap(identifier: "postured", level: level)
        let logger = Logger(label: "postured")
        var options = AgentOptions()
        options.interval = interval?.duration ?? file.interval
        options.count = count
        options.spoolCapacity = spoolCapacity ?? file.spoolCapacity
        options.root = HostRoot(root)
        if let journalDirectory { options.journalSource = .directory(journalDirectory) }
        options.enforcement = try enforcement.options(over: file.enforcement)
        options.access = file.access
        if let accessSocket { options.access.socket = accessSocket }
        if let revokedKeysFile { options.access.revokedKeysFile = revokedKeysFile }
        if let krlRefresh { options.access.krlRefresh = krlRefresh.duration }
        if let sudoersDirectory { options.access.sudoersDirectory = sudoersDirectory }
        if let grantRefresh { options.access.grantRefresh = grantRefresh.duration }
        options.tpm = tpm ?? file.tpm
        options.tpmEventLog = file.tpmEventLog
        let enrollmentConfig = enrollmentConfig ?? file.enrollmentConfig
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
/// Each option overrides its key in the configuration's `enforcement` section; a flag can only turn on.
struct EnforcementArguments: ParsableArguments {
    @Option(help: "off, dry-run (decide and audit, do nothing) or enforce (mode; default off).") var enforce: String?
    @Option(name: .customLong("exempt-user"), help: "Never touched (repeatable; root always is) (exemptUsers).")
    var exemptUsers: [String] = []
    @Option(name: .customLong("exempt-group"), help: "Members are never touched (repeatable) (exemptGroups).")
    var exemptGroups: [String] = []
    @Option(
        help: ArgumentHelp("Warn users (wall) this long before ending sessions (notifyFor).", valueName: "duration"))
    var notifyFor: String?
    @Flag(help: "Lock the sessions that will end during --notify-for.") var lockDuringNotice = false
    @Flag(help: "Only block new logins; leave open sessions.") var keepSessions = false
    @Flag(help: "Also lock the passwords of non-exempt accounts (unlocked again exactly).") var disableAccounts = false
    @Flag(help: "Act on unknown verdicts too (deny on doubt).") var enforceUnknown = false
    @Option(help: "Without a verified verdict for --keep-verdict-for: closed (take access away) or open (offline).")
    var offline: String?
    @Option(
        help: ArgumentHelp("How long the last verified verdict stands offline (keepVerdictFor).", valueName: "duration")
    )
    var keepVerdictFor: String?
    @Option(help: ArgumentHelp("The nologin file pam_nologin reads (nologinPath).", valueName: "path"))
    var nologinPath: String?

    func options(over file: EnforcementOptions = EnforcementOptions()) throws -> EnforcementOptions {
        var options = file
        if let enforce {
            guard let mode = EnforcementOptions.Mode(rawValue: enforce) else {
                throw ValidationError("--enforce \(enforce): use off, dry-run or enforce")
            }
            options.mode = mode
        }
        if let offline {
            guard let rule = EnforcementOptions.Offline(rawValue: offline) else {
                throw ValidationError("--offline \(offline): use closed or open")
            }
            options.offline = rule
        }
        for (name, text, target) in [
            ("--notify-for", notifyFor, \EnforcementOptions.notifyFor),
            ("--keep-verdict-for", keepVerdictFor, \EnforcementOptions.keepLastVerdictFor),
        ] {
            guard let text else { continue }
            guard let parsed = DurationText(text) else {
                throw ValidationError("\(name) \(text): a duration such as 30s, 15m or 4h")
            }
            options[keyPath: target] = parsed.duration
        }
        if !exemptUsers.isEmpty { options.exemptUsers = ["root"] + exemptUsers }
        if !exemptGroups.isEmpty { options.exemptGroups = exemptGroups }
        if keepSessions { options.terminateSessions = false }
        if lockDuringNotice { options.lockDuringNotice = true }
        if disableAccounts { options.disableAccounts = true }
        if enforceUnknown { options.enforceUnknown = true }
        if let nologinPath { options.nologinPath = nologinPath }
        return options
    }
}

/// `postured check-config`: the configuration file as `postured run` would read it.
struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check the agent's configuration file: exit 1 naming the file, line and key of what is wrong.")
    @Option(help: ArgumentHelp("The configuration file.", valueName: "file"))
    var config: String = AgentConfiguration.defaultPath

    func run() async throws {
        let file = try AgentConfiguration.load(config)
        let enforcement = file.enforcement
        print(
            """
            \(config): valid
            interval \(file.interval), spoolCapacity \(file.spoolCapacity), logLevel \(file.logLevel)
            enforcement \(enforcement.mode.rawValue), offline \(enforcement.offline.rawValue) after \(enforcement.keepLastVerdictFor), exempt users \(enforcement.exemptUsers.joined(separator: " ")), groups \(enforcement.exemptGroups.joined(separator: " "))
            """)
    }
}
