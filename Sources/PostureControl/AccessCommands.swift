import ArgumentParser
import PostureModel
import PostureOperator
import PostureSystem

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `posturectl access`: on the device, ask for time-bound sudo and see your grants (through the local
/// agent, which knows who you are from the socket); as an operator, list, approve and deny (the API).
public struct AccessCommands: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "access", abstract: OperatorAccess.abstract,
        subcommands: [Request.self, Status.self] + OperatorAccess.subcommands)

    public struct Request: AsyncParsableCommand {
        public init() {}

        public static let configuration = CommandConfiguration(
            abstract: "Ask for sudo on this device under a grant, for a while, saying why.",
            discussion: """
                The local agent asks the collector, which checks the grant (policy access.grants) and this
                device's verdict. A grant with approval auto is in force at once; one with approval operator
                waits until an operator runs posturectl access approve ID (with --wait this command waits
                too). The agent writes a sudoers drop-in for you and removes it at the deadline, when this
                device turns non-compliant or when the grant is revoked; then sudo -n works as the grant says.
                Exit codes: 0 in force (or waiting, without --wait); 1 refused, denied or failed; 2 bad arguments.
                """)

        @Option(help: "The grant to ask for (posture-collector policy check lists the policy's grants).")
        var grant: String
        @Option(name: .customLong("for"), help: ArgumentHelp("Shorter than the grant's duration, e.g. 30m."))
        var duration: String?
        @Option(help: "Why (the approver and the audit trail read it).") var reason: String
        @Flag(help: "Wait for an operator's decision (at most 15 minutes).") var wait = false
        @Option(help: ArgumentHelp("The agent's access socket.", valueName: "path"))
        var socket: String = AccessSocketPath.shipped

        public func run() async throws {
            let answer = try ask(
                LocalSudoRequest(action: .sudoRequest, grant: grant, duration: duration, reason: reason), socket)
            guard var state = answer.sudo?.first else { throw failure(answer.error ?? "refused") }
            if state.status == .pending {
                print(
                    "sudo request \(state.id) waits for an operator: posturectl access approve \(state.id) --reason …")
            }
            let deadline = Date().addingTimeInterval(15 * 60)
            while wait, state.status == .pending, Date() < deadline {
                try await Task.sleep(for: .seconds(2))
                let states = try ask(LocalSudoRequest(action: .sudoStatus), socket).sudo ?? []
                if let now = states.first(where: { $0.id == state.id }) { state = now }
            }
            switch state.status {
            case .active:
                print(
                    "sudo \(state.id) for \(state.user): \(state.commands.joined(separator: ", ")) until \(state.validUntil?.formatted(.iso8601) ?? "-")"
                )
            case .pending:
                if wait { throw failure("sudo request \(state.id) is still waiting after 15 minutes") }
            case .denied, .revoked, .expired:
                throw failure("sudo request \(state.id) was \(state.status.rawValue)")
            }
        }
    }

    public struct Status: AsyncParsableCommand {
        public init() {}

        public static let configuration = CommandConfiguration(
            abstract: "Your sudo grants on this device: waiting, in force and past.")

        @Option(help: ArgumentHelp("The agent's access socket.", valueName: "path"))
        var socket: String = AccessSocketPath.shipped

        public func run() async throws {
            let answer = try ask(LocalSudoRequest(action: .sudoStatus), socket)
            guard let states = answer.sudo else { throw failure(answer.error ?? "no answer") }
            let rows = states.map { state in
                [
                    String(state.id), state.status.rawValue, state.grant, state.validUntil?.formatted(.iso8601) ?? "-",
                    state.commands.joined(separator: ", "),
                ]
            }
            print(
                TextTable.terminalSafe(
                    TextTable.render(["ID", "STATE", "GRANT", "UNTIL", "COMMANDS"], rows, widths: [6, 8, 16, 20, 30])))
        }
    }
}

enum AccessSocketPath {
    /// The socket the shipped agent.yaml sets (access.socket).
    static let shipped = "/run/postured/access.sock"
}

/// One exchange with the local agent: the request line out, its answer in (its error thrown as a failure).
func ask(_ request: some Encodable, _ socket: String) throws -> LocalAccessAnswer {
    let bytes: [UInt8]
    do {
        bytes = try LocalExchange.ask(socket: socket, request: Array(try PostureReport.wireEncoder().encode(request)))
    } catch {
        throw failure(
            "cannot reach the agent on \(socket): \(error) (is postured running, with access.socket set in /etc/posture/agent.yaml?)"
        )
    }
    guard let answer = try? PostureReport.wireDecoder().decode(LocalAccessAnswer.self, from: Data(bytes)) else {
        throw failure("the agent's answer is not understood (update postured and posturectl together)")
    }
    if let error = answer.error { throw failure(error) }
    return answer
}

/// Prints `posturectl: message` on standard error; the exit code 1 to throw.
func failure(_ message: String) -> ExitCode {
    let line = Array("posturectl: \(TextTable.terminalSafe(message))\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    return ExitCode(1)
}
