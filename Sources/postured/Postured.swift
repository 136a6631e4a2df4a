import ArgumentParser
import PostureControl
import PostureLinux
import PostureModel
import PostureProbes
import PostureSystem

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One binary, two names: `postured` (the daemon and its tools) and `posturectl`.
@main
enum Main {
    static func main() async {
        let arguments = Array(invokedArguments().dropFirst())
        if invokedName() == "posturectl" { await PostureCtl.main(arguments) } else { await Postured.main(arguments) }
    }
}

struct Postured: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postured",
        abstract: "Posture agent: gathers this device's posture facts.",
        discussion: """
            Exit codes: 0 success; 64 bad usage (the message names the option); 1 any other failure.
            """,
        version: postureVersion,
        subcommands: [Probe.self, Enroll.self, Run.self, CheckConfig.self, AgentStatus.self, ReleaseAccess.self]
    )
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case json, table
}

/// A duration written as a count and a unit: `90s`, `30m`, `24h`, `7d`.
struct DurationArgument: ExpressibleByArgument {
    let duration: Duration
    let text: String

    init?(argument: String) {
        guard let parsed = DurationText(argument) else { return nil }
        duration = parsed.duration
        text = argument
    }

    var defaultValueDescription: String { text }

    static var defaultCompletionKind: CompletionKind { .list(["30m", "24h", "7d"]) }
}

struct Probe: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Gather every fact once and print the report (no enrollment needed).",
        discussion: """
            Reads /proc, /sys, /etc and /dev below --root (default /). Firewall state always comes from \
            the kernel of the current network namespace, and needs root (CAP_NET_ADMIN) to read. Without \
            --journal-cursor, journal events of the last --journal-window are read; the report's \
            journal.value.cursor resumes exactly after them. The JSON schema is documented in \
            Sources/PostureModel/SCHEMA.md. A fact that cannot be read is reported as unavailable with \
            the reason; the command still succeeds.
            """)

    @Option(help: "Output format: json or table.")
    var format: OutputFormat = .table

    @Option(help: ArgumentHelp("Read the host's files below this directory (a fixture tree).", valueName: "dir"))
    var root: String = "/"

    @Option(
        name: .customLong("journal-file"),
        help: ArgumentHelp("Read these journal files instead of the system journal (repeatable).", valueName: "file"))
    var journalFiles: [String] = []

    @Option(
        name: .customLong("journal-directory"),
        help: ArgumentHelp("Read the journal files in this directory.", valueName: "dir"))
    var journalDirectory: String?

    @Option(
        name: .customLong("journal-cursor"),
        help: ArgumentHelp("Report only journal entries after this cursor.", valueName: "cursor"))
    var journalCursor: String?

    @Option(
        name: .customLong("journal-window"),
        help: ArgumentHelp("Without a cursor, how far back to read: 30m, 24h, 7d.", valueName: "duration"))
    var journalWindow = DurationArgument.day

    func validate() throws {
        if !journalFiles.isEmpty && journalDirectory != nil {
            throw ValidationError("--journal-file and --journal-directory exclude each other; give one of them.")
        }
    }

    func run() throws {
        var journal = JournalOptions(afterCursor: journalCursor, window: journalWindow.duration)
        if !journalFiles.isEmpty { journal.source = .files(journalFiles) }
        if let journalDirectory { journal.source = .directory(journalDirectory) }
        let context = ProbeContext(root: HostRoot(root), now: Date(), journal: journal)
        let report = ReportCollector().collect(in: context)
        switch format {
        case .json:
            let data = try PostureReport.makeEncoder(pretty: true).encode(report)
            print(String(decoding: data, as: UTF8.self))
        case .table:
            print(ReportTable.render(report), terminator: "")
        }
    }
}

extension DurationArgument {
    private init(duration: Duration, text: String) {
        self.duration = duration
        self.text = text
    }

    static let day = DurationArgument(duration: .seconds(86400), text: "24h")
}
