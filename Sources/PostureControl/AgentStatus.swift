import ArgumentParser
import PostureAgent
import PostureLinux
import PostureModel

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
        discussion: "Exit codes: 0 enrolled; 3 not enrolled; 1 the state directory cannot be read (run as root).")

    @Option(help: ArgumentHelp("State directory.", valueName: "dir")) var stateDir: String = AgentState.defaultDirectory

    public func run() async throws {
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
        if let hold = try spool.hold() {
            // A clock-dependent refusal: the spool waits (and is retried) until the clocks agree.
            print("held        since \(hold.since) at report \(hold.sequence): \(hold.code): \(hold.message)")
        }
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
                    "  \(outcome.state.rawValue + String(repeating: " ", count: max(0, 12 - outcome.state.rawValue.count)))\(outcome.rule): \(outcome.observed) (wants \(outcome.expected))"
                )
            }
        } else {
            print("verdict     none yet")
        }
        if let enforcement = Enforcer.State.load(from: state.enforcementPath) {
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
