import ArgumentParser
import PostureCollector
import PostureStore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `posture-collector ssh ca`: the SSH user CA's public key, for target hosts' `TrustedUserCAKeys`.
struct SSH: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ssh", abstract: "The SSH user CA that signs posture-bound certificates.", subcommands: [CA.self])

    struct CA: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the SSH user CA's public key (creating the CA if needed).",
            discussion: """
                Install it on target hosts as the file sshd's TrustedUserCAKeys names (README, "Just-in-time
                access"):
                  posture-collector ssh ca > /etc/ssh/posture-user-ca.pub
                """)
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let configuration = try options.load()
            print(try SSHUserCA.publicKeyLine(stateDirectory: configuration.stateDirectory))
        }
    }
}

/// `posture-collector access grants|events`: what was granted to whom, and every request's outcome.
struct Access: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "access", abstract: "Just-in-time access: grants given and the requests' events.",
        subcommands: [Grants.self, Events.self, Revoke.self])

    struct Grants: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Grants (SSH certificates, sudo), newest first, as JSON; each with its state now.",
            discussion: """
                state of an SSH certificate: active (valid now), expired, revoked (listed in the KRL: the
                device is not compliant or the grant was revoked); its id is the certificate's serial.
                state of sudo: pending (posturectl access approve|deny ID), active, denied, revoked, expired.
                """)
        @OptionGroup var options: ConfigOptions
        @Option(help: "Only this device's.") var device: String?
        @Option var limit: Int = 100

        func run() async throws {
            let store = try await Collector.openStore(try options.load())
            let now = Date()
            let revoked = Set(try await store.revokedSSHSerials(now: now))
            struct Row: Encodable {
                var grant: AccessGrantRecord
                var state: String
            }
            let rows = try await store.accessGrants(deviceID: device, limit: limit).map { grant in
                Row(
                    grant: grant,
                    state: grant.kind == "ssh"
                        ? (revoked.contains(grant.id)
                            ? "revoked" : (grant.validUntil.map { $0 > now } ?? false) ? "active" : "expired")
                        : (grant.status == "active" && (grant.validUntil.map { $0 <= now } ?? false))
                            ? "expired" : grant.status)
            }
            print(try encode(rows))
        }
    }

    struct Events: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Access requests' outcomes (issued, refused with the reason), newest first, as JSON.")
        @OptionGroup var options: ConfigOptions
        @Option(help: "Only this device's.") var device: String?
        @Option var limit: Int = 100

        func run() async throws {
            let store = try await Collector.openStore(try options.load())
            print(try encode(try await store.accessEvents(deviceID: device, limit: limit)))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a grant: its SSH certificate joins the KRL that target hosts refuse it by.",
            discussion: "Exit codes: 0 revoked; 6 no active grant has this id (unknown, expired or revoked).")
        @OptionGroup var options: ConfigOptions
        @OptionGroup var actor: ActorOptions
        @Argument(help: "The grant's id (the certificate's serial; posture-collector access grants).") var id: Int64

        func run() async throws {
            let store = try await Collector.openStore(try options.load())
            guard
                try await store.revokeGrant(
                    id: id, actor: "operator:\(actor.who)", reason: actor.reason, at: Date())
            else {
                print("no active grant \(id): posture-collector access grants lists them")
                throw ExitCode(6)
            }
            print("revoked grant \(id): target hosts refuse its certificate from their next KRL refresh")
        }
    }
}
