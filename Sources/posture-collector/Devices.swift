import ArgumentParser
import PostureCollector
import PostureModel
import PostureStore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case json, table
}

struct Devices: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enrolled devices, read from the collector's store.",
        subcommands: [
            List.self, Show.self, Revoke.self, Attestations.self, Quarantine.self, Release.self, Verdict.self,
        ])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List devices.")
        @OptionGroup var options: ConfigOptions
        @Option var format: OutputFormat = .table

        func run() async throws {
            let store = try await Collector.openStore(try options.load())
            let views = try await store.devices()
            switch format {
            case .json: print(try encode(views))
            case .table:
                print("DEVICE                                STATUS    HOSTNAME              SEQ  KEPT     LAST")
                for view in views {
                    let device = view.device
                    print(
                        [
                            device.id.padding(toLength: 38, withPad: " ", startingAt: 0),
                            device.status.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0),
                            device.hostname.padding(toLength: 22, withPad: " ", startingAt: 0),
                            String(device.lastSequence).padding(toLength: 5, withPad: " ", startingAt: 0),
                            String(view.attestations).padding(toLength: 9, withPad: " ", startingAt: 0),
                            view.lastReceivedAt.map { "\($0) (\(view.lastDelivery ?? "-"))" } ?? "never",
                        ].joined())
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One device with its newest accepted report.")
        @OptionGroup var options: ConfigOptions
        @Argument var id: String
        @Option var format: OutputFormat = .json

        func run() async throws {
            let store = try await Collector.openStore(try options.load())
            guard let view = try await store.deviceView(id) else {
                throw CollectorError(.notFound, "no device \(id); list them with `posture-collector devices list`")
            }
            switch format {
            case .json: print(try encode(view))
            case .table:
                print("device    \(view.device.id)\nstatus    \(view.device.status.rawValue)")
                print("hostname  \(view.device.hostname)\nmachine   \(view.device.machineID)")
                print(
                    "sequence  \(view.device.lastSequence)\nreports   \(view.attestations) kept (older ones go after storage.keepAttestations)"
                )
                if let payload = view.latestPayload,
                    let decoded = try? PostureReport.makeDecoder().decode(
                        AttestationPayload.self, from: Data(payload.utf8))
                {
                    print(ReportTable.render(decoded.report), terminator: "")
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a device: its certificate is refused at the next TLS handshake.")
        @OptionGroup var options: ConfigOptions
        @OptionGroup var actor: ActorOptions
        @Argument var id: String

        func run() async throws {
            let store = try await Collector.openStore(try options.load())
            guard try await store.revoke(deviceID: id, actor: actor.who, reason: actor.reason, at: Date()) else {
                throw CollectorError(
                    .notFound, "no active device \(id); list them with `posture-collector devices list`")
            }
            print("revoked \(id)")
        }
    }

    struct Quarantine: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Quarantine a device: its verdict is noncompliant at once, whatever its report says.")
        @OptionGroup var change: QuarantineChange

        func run() async throws {
            try await change.apply(
                true,
                refused:
                    "no active device \(change.id), or it is already quarantined (see `posture-collector devices verdict \(change.id)`)"
            )
            print("quarantined \(change.id)")
        }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Release a quarantined device.")
        @OptionGroup var change: QuarantineChange

        func run() async throws {
            try await change.apply(false, refused: "device \(change.id) is not quarantined")
            print("released \(change.id)")
        }
    }

    /// Quarantine and release: the same change in opposite directions, recorded with who and why.
    struct QuarantineChange: ParsableArguments {
        @OptionGroup var options: ConfigOptions
        @OptionGroup var actor: ActorOptions
        @Argument var id: String

        func apply(_ quarantine: Bool, refused: String) async throws {
            let store = try await Collector.openStore(try options.load())
            guard
                try await store.setQuarantine(
                    deviceID: id, quarantine: quarantine, actor: actor.who, reason: actor.reason, at: Date())
            else { throw CollectorError(.notFound, refused) }
        }
    }

    struct Verdict: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A device's current verdict and its changes, as the collector stored them.")
        @OptionGroup var options: ConfigOptions
        @Argument var id: String
        @Option var limit: Int = 20

        func run() async throws {
            let store = try await Collector.openStore(try options.load())
            guard let current = try await store.verdicts().first(where: { $0.deviceID == id }) else {
                throw CollectorError(.notFound, "no verdict for \(id); is it enrolled and has the collector run since?")
            }
            print(current.verdict)
            for change in try await store.verdictChanges(deviceID: id, limit: limit) {
                print(
                    "\(change.at.formatted(.iso8601))  \(change.previousStatus ?? "-") -> \(change.status)  \(change.cause)"
                )
            }
        }
    }

    struct Attestations: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A device's accepted attestations, newest first.")
        @OptionGroup var options: ConfigOptions
        @Argument var id: String
        @Option var limit: Int = 100

        func run() async throws {
            let store = try await Collector.openStore(try options.load())
            print(try encode(try await store.attestations(deviceID: id, limit: limit)))
        }
    }
}

func encode(_ value: some Encodable) throws -> String {
    String(decoding: try PostureReport.makeEncoder(pretty: true).encode(value), as: UTF8.self)
}

/// Who does an operator action and why: recorded with it.
struct ActorOptions: ParsableArguments {
    @Option(help: "Why (recorded in the audit trail).") var reason: String
    @Option(help: "Who (default: $SUDO_USER or $USER).") var by: String?

    var who: String { by ?? currentUser }
}

/// The operator running the command: $SUDO_USER (who used sudo), else $USER.
var currentUser: String {
    ProcessInfo.processInfo.environment["SUDO_USER"] ?? ProcessInfo.processInfo.environment["USER"] ?? "unknown"
}
