import ArgumentParser
import PostureAPI
import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `posturectl access grants|approve|deny`: just-in-time access as an operator sees it, through the API.
/// The agent's posturectl adds `request` and `status` for the people on the device (`AccessCommands`).
public enum OperatorAccess {
    public static let subcommands: [any ParsableCommand.Type] = [Grants.self, Approve.self, Deny.self, Revoke.self]

    public static let abstract = "Just-in-time access: SSH certificates and time-bound sudo."

    struct Grants: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List access grants (SSH certificates, sudo), pending, active and past, newest first.")
        @OptionGroup var connection: OperatorOptions
        @Option(help: "One device: an ID, hostname:NAME, machine-id:HEX or sha256:HEX.") var device: String?
        @Option(help: "One local user's.") var user: String?
        @Option(help: "At most this many (1 to 500).") var limit = 100
        @Option(help: OutputFormat.help) var format: OutputFormat = .table

        func run() async throws {
            try await FleetAPI.run(connection) { api in
                let page = try await api.client.listAccessGrants(query: .init(device: device, user: user, limit: limit))
                    .ok.body
                    .json
                guard format == .table else { return print(try jsonText(page)) }
                let rows: [[String]] = page.grants.map { grant in
                    let what =
                        grant.kind == .ssh
                        ? (grant.detail.additionalProperties["principals"] ?? "")
                        : (grant.detail.additionalProperties["commands"] ?? "").split(separator: "\n").joined(
                            separator: ", ")
                    return [
                        String(grant.id), grant.kind.rawValue, grant.status.rawValue, String(grant.deviceID.prefix(8)),
                        grant.user, grant.grant, grant.validUntil?.formatted(.iso8601) ?? "-", what,
                    ]
                }
                print(
                    TextTable.terminalSafe(
                        TextTable.render(
                            ["ID", "KIND", "STATE", "DEVICE", "USER", "GRANT", "UNTIL", "WHAT"], rows,
                            widths: [6, 4, 8, 8, 12, 16, 20, 30])))
            }
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Approve a pending sudo request: it comes into force now, for its duration.",
            discussion: "Refused (exit 6) when it is not pending, or the device no longer meets the grant's conditions."
        )
        @OptionGroup var connection: OperatorOptions
        @Argument(help: "The request's ID (posturectl access grants).") var id: Int64
        @Option(help: "Why (recorded in the audit trail).") var reason: String

        func run() async throws {
            try await FleetAPI.run(connection) { api in
                let grant = try await api.client.approveAccessGrant(
                    path: .init(id: id), body: .json(.init(reason: reason))
                ).ok.body.json
                print("approved \(id): sudo for \(grant.user) until \(grant.validUntil?.formatted(.iso8601) ?? "-")")
            }
        }
    }

    struct Deny: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Deny a pending sudo request.")
        @OptionGroup var connection: OperatorOptions
        @Argument(help: "The request's ID (posturectl access grants).") var id: Int64
        @Option(help: "Why (recorded in the audit trail).") var reason: String

        func run() async throws {
            try await FleetAPI.run(connection) { api in
                _ = try await api.client.denyAccessGrant(path: .init(id: id), body: .json(.init(reason: reason))).ok
                print("denied \(id)")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "End an active grant now: its SSH certificate joins the KRL, its sudo drop-in is removed.",
            discussion: "Exit 5 when no active grant has this ID.")
        @OptionGroup var connection: OperatorOptions
        @Argument(help: "The grant's ID (posturectl access grants).") var id: Int64
        @Option(help: "Why (recorded in the audit trail).") var reason: String

        func run() async throws {
            try await FleetAPI.run(connection) { api in
                _ = try await api.client.revokeAccessGrant(path: .init(id: id), body: .json(.init(reason: reason))).ok
                print("revoked \(id)")
            }
        }
    }
}

/// `posturectl access` in the collector's package: the operator half.
struct OperatorAccessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "access", abstract: OperatorAccess.abstract, subcommands: OperatorAccess.subcommands)
}
