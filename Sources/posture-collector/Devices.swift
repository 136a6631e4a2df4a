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

    /// What every `--format` says in `--help`.
    static let help = ArgumentHelp("json (stable for scripts) or table (for people).")
}

/// The break-glass tool: the same operations as the API (`FleetOperations`), on the store directly, for an
/// operator on the collector's host when no API token or no collector is at hand. Writes are recorded with
/// `--by` (default $SUDO_USER or $USER) and applied by the running collectors from the action log.
struct Devices: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enrolled devices, read from the collector's store.",
        subcommands: [
            List.self, Show.self, Revoke.self, Attestations.self, Quarantine.self, Release.self, AcceptBoot.self,
            Verdict.self,
        ])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List devices, a page at a time (the API's GET /v1/devices).",
            discussion: "--format json prints {\"devices\": […], \"nextCursor\": …}; pass nextCursor to --cursor.")
        @OptionGroup var options: ConfigOptions
        @Option(help: "compliant, noncompliant, unknown, or none (not evaluated yet).") var verdict: String?
        @Option(help: "Part of the hostname.") var hostname: String?
        @Option(help: "Only devices with this label, k=v.") var label: String?
        @Option(help: "active (default), revoked, replaced, or all.") var state: String?
        @Option(help: "hostname (default), last_seen, enrolled, or verdict_since.") var sort: String?
        @Option(help: "At most this many devices (1 to 500).") var limit = 100
        @Option(help: "Continue after a previous page's nextCursor.") var cursor: String?
        @Option(help: OutputFormat.help) var format: OutputFormat = .table

        func run() async throws {
            let values: [String: String?] = [
                "verdict": verdict, "hostname": hostname, "label": label, "state": state, "sort": sort,
                "limit": String(limit), "cursor": cursor,
            ]
            let query = try FleetQueryParameters.parse { values[$0] ?? nil }
            let page = try await options.fleet().devices(query, by: .local(currentUser))
            switch format {
            case .json: print(try encode(page))
            case .table:
                print("DEVICE                                STATE     VERDICT        HOSTNAME              LAST")
                for device in page.devices {
                    print(
                        [
                            device.id.padding(toLength: 38, withPad: " ", startingAt: 0),
                            device.state.padding(toLength: 10, withPad: " ", startingAt: 0),
                            (device.verdict ?? "none").padding(toLength: 15, withPad: " ", startingAt: 0),
                            device.hostname.padding(toLength: 22, withPad: " ", startingAt: 0),
                            device.lastSeen.map { $0.formatted(.iso8601) } ?? "never",
                        ].joined())
                }
                PageOptions.more(page.nextCursor)
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One device with its newest accepted report.")

        /// Where the key lives and, for a TPM device, what its newest quote verified booted.
        static func boot(_ device: DeviceRecord, _ report: PostureReport) -> String {
            var lines = ["key       \(device.keyProtection.rawValue)"]
            guard device.keyProtection == .tpm, let boot = MeasuredBoot(reported: report) else {
                return lines.joined(separator: "\n") + "\n"
            }
            switch boot.log {
            case .replayed(let events, let secureBoot, let problem):
                let state =
                    problem.map { "unreadable (\($0))" } ?? secureBoot.map { $0 ? "on" : "off" } ?? "not measured"
                lines.append("boot      event log replayed: \(events) events; Secure Boot \(state)")
            case .absent(let why): lines.append("boot      event log absent: \(why)")
            case .invalid(let why): lines.append("boot      event log invalid: \(why)")
            }
            let baseline = device.tpm?.bootBaseline
            lines.append(
                "baseline  "
                    + MeasuredBoot.baselineWording(
                        recorded: baseline != nil,
                        changed: baseline.map { boot.changed(from: MeasuredBoot.pcrMap($0)) } ?? [])
                    + (baseline == nil ? " (posture-collector devices accept-boot)" : ""))
            for (index, value) in boot.pcrs.sorted(by: { $0.key < $1.key }) {
                lines.append("pcr \(index)     \(value)")
            }
            return lines.joined(separator: "\n") + "\n"
        }
        @OptionGroup var options: ConfigOptions
        @Argument(help: "A device ID, hostname:NAME, machine-id:HEX or sha256:HEX.") var id: String
        @Option(help: OutputFormat.help) var format: OutputFormat = .json

        func run() async throws {
            let store = try await Collector.openStore(try options.load())
            let id = try await FleetOperations(offline: store).resolve(id)
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
                    print(Self.boot(view.device, decoded.report), terminator: "")
                    print(ReportTable.render(decoded.report), terminator: "")
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a device: its certificate is refused at the next TLS handshake.")
        @OptionGroup var change: DeviceChange
        func run() async throws { try await change.apply(.revoke, done: "revoked") }
    }

    struct Quarantine: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Quarantine a device: its verdict is noncompliant at once, whatever its report says.")
        @OptionGroup var change: DeviceChange
        func run() async throws { try await change.apply(.quarantine, done: "quarantined") }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Release a quarantined device.")
        @OptionGroup var change: DeviceChange
        func run() async throws { try await change.apply(.release, done: "released") }
    }

    struct AcceptBoot: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "accept-boot",
            abstract:
                "Accept a TPM device's newest quoted boot as what measuredBoot expects (after a firmware or kernel update)."
        )
        @OptionGroup var options: ConfigOptions
        @OptionGroup var actor: ActorOptions
        @Argument(help: "A device ID, hostname:NAME, machine-id:HEX or sha256:HEX.") var id: String

        func run() async throws {
            let detail = try await options.fleet().acceptBoot(id, reason: actor.reason, by: actor.caller)
            print("accepted the boot of \(detail.device.id): PCR 0-9 \(detail.boot?.pcrs.joined(separator: " ") ?? "")")
        }
    }

    /// Quarantine, release and revoke: `FleetOperations.apply`, recorded with who and why.
    struct DeviceChange: ParsableArguments {
        @OptionGroup var options: ConfigOptions
        @OptionGroup var actor: ActorOptions
        @Argument(help: "A device ID, hostname:NAME, machine-id:HEX or sha256:HEX.") var id: String

        func apply(_ action: FleetOperations.DeviceAction, done: String) async throws {
            let detail = try await options.fleet().apply(action, to: id, reason: actor.reason, by: actor.caller)
            print("\(done) \(detail.device.id)")
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
    var caller: Caller { .local(who) }
}

/// A page of a list, newest first, as the API pages it.
struct PageOptions: ParsableArguments {
    @Option(help: "At most this many (1 to 500).") var limit = 100
    @Option(help: "Continue after the previous page (the cursor it printed last).") var cursor: String?

    /// The line that ends a page that is not the last.
    static func more(_ next: String?) { if let next { print("… more: --cursor \(next)") } }
}

extension ConfigOptions {
    /// The operations over this configuration's store.
    func fleet() async throws -> FleetOperations { FleetOperations(offline: try await Collector.openStore(try load())) }
}

/// The operator running the command: $SUDO_USER (who used sudo), else $USER.
var currentUser: String {
    ProcessInfo.processInfo.environment["SUDO_USER"] ?? ProcessInfo.processInfo.environment["USER"] ?? "unknown"
}
