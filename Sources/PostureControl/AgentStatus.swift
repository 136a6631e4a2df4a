import ArgumentParser
import PostureAgentState
import PostureModel
import PostureOperator

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `posturectl status` (and `postured status`): what the agent on this device has done and been told.
public struct AgentStatus: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "This device's enrollment, spool, verdict and enforcement state (reads the agent's state).",
        discussion: """
            Exit codes: 0 enrolled; 3 not enrolled; 1 the state directory cannot be read (run as root).
            --format json prints {enrolled, device, collector, enrolledAt, spool {count, firstSequence,
            lastSequence, hold, dropped}, cursor, verdict, enforcement}; times are RFC 3339.
            """)

    @Option(help: ArgumentHelp("State directory.", valueName: "dir")) var stateDir: String = AgentState.defaultDirectory
    @Option(
        help: ArgumentHelp(
            "table (for people) or json (for scripts: the members of AgentStatusReport, stable within a major version).",
            valueName: "format"))
    var format: OutputFormat = .table

    public func run() async throws {
        let report = try AgentStatusReport(AgentState(directory: stateDir))
        switch format {
        case .json:
            let data = try PostureReport.wireEncoder().encode(report)
            print(String(decoding: data, as: UTF8.self))
        case .table:
            print(report.table(stateDir: stateDir), terminator: "")
        }
        if !report.enrolled { throw ExitCode(3) }
    }
}

/// What `status` reports, read once from the agent's state directory; `--format json` prints it as is.
/// Members are only ever added: scripts may rely on those here.
public struct AgentStatusReport: Codable, Sendable {
    public struct SpoolState: Codable, Sendable {
        public var count: Int
        public var firstSequence: UInt64?
        public var lastSequence: UInt64?
        /// Reports held back because of a clock-dependent refusal, retried until the clocks agree.
        public var hold: Spool.Hold?
        /// Reports dropped when the spool was full.
        public var dropped: SpoolGap?
    }

    public var enrolled: Bool
    public var device: String?
    public var collector: String?
    public var enrolledAt: Date?
    public var spool: SpoolState?
    /// The journal cursor of the newest accepted report.
    public var cursor: String?
    public var verdict: Verdict?
    public var enforcement: EnforcementState?

    init(_ state: AgentState) throws {
        guard let enrollment = try state.enrollment() else {
            enrolled = false
            return
        }
        enrolled = true
        device = enrollment.identity
        collector = enrollment.devicesURL
        enrolledAt = enrollment.enrolledAt
        let queue = Spool(directory: state.spoolDirectory, capacity: .max)
        let sequences = try queue.sequences()
        spool = SpoolState(
            count: sequences.count, firstSequence: sequences.first, lastSequence: sequences.last,
            hold: try queue.hold(), dropped: try queue.gap())
        cursor = try state.acceptedCursor()
        verdict = try state.verdict()
        enforcement = EnforcementState.load(from: state.enforcementPath)
    }

    func table(stateDir: String) -> String {
        var out = ""
        func line(_ text: String) { out += text + "\n" }
        guard enrolled, let spool else {
            line("not enrolled (no \(stateDir)/enrollment.json)")
            return out
        }
        line("device      \(device ?? "")")
        line("collector   \(collector ?? "")")
        line("enrolled    \(enrolledAt.map { "\($0)" } ?? "")")
        line(
            "spooled     \(spool.count)\(spool.count == 0 ? "" : " (sequences \(spool.firstSequence ?? 0)–\(spool.lastSequence ?? 0))")"
        )
        if let hold = spool.hold {
            // A clock-dependent refusal: the spool waits (and is retried) until the clocks agree.
            line("held        since \(hold.since) at report \(hold.sequence): \(hold.code): \(hold.message)")
        }
        if let gap = spool.dropped {
            line("dropped     \(gap.count) (sequences \(gap.firstSequence)–\(gap.lastSequence))")
        }
        line("cursor      \(cursor ?? "none yet")")
        if let verdict {
            line("verdict     \(verdict.status.rawValue) (risk \(verdict.risk), evaluated \(verdict.evaluatedAt))")
            if let quarantine = verdict.quarantine {
                line("quarantine  by \(quarantine.by): \(quarantine.reason)")
            }
            for outcome in verdict.failing + verdict.unknown + verdict.excused {
                line(
                    "  \(outcome.state.rawValue + String(repeating: " ", count: max(0, 12 - outcome.state.rawValue.count)))\(outcome.rule): \(outcome.observed) (wants \(outcome.expected))"
                )
            }
        } else {
            line("verdict     none yet")
        }
        if let enforcement {
            let since = enforcement.since.map { " since \($0)" } ?? ""
            line("enforcing   \(enforcement.enforcing ? "yes\(since): \(enforcement.reason ?? "")" : "no")")
            if let decision = enforcement.lastDecision { line("decision    \(decision)") }
            if enforcement.nologinWritten != nil { line("logins      blocked by postured's nologin file") }
            if !enforcement.terminatedSessions.isEmpty {
                line("ended       sessions \(enforcement.terminatedSessions.joined(separator: ", "))")
            }
        } else {
            line("enforcing   no (postured run --enforce dry-run|enforce to act on verdicts)")
        }
        return out
    }
}
