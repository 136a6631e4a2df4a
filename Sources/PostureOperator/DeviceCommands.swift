import ArgumentParser
import PostureAPI
import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

public enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case table, json

    /// What every `--format` says in `--help`.
    static let help = ArgumentHelp(
        "table (for people, 80 columns) or json (the API's answer as openapi.yaml types it: stable for scripts).")
}

/// `posturectl devices …`: the fleet's devices, through the collector's API.
struct DevicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices", abstract: "Find devices, see why they are (non-)compliant, act on them.",
        subcommands: [List.self, Show.self, Quarantine.self, Release.self, Revoke.self, AcceptBoot.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List devices: which are non-compliant, since when, and why.",
            discussion: """
                Filters combine (AND). Times are RFC 3339 or an age (24h = seen before/after 24 hours ago). \
                The table fits 80 columns (IDs shortened: `devices show` takes the full ID or hostname:NAME); \
                --format json prints {"devices": […], "nextCursor": …}, stable for scripts.
                """)
        @OptionGroup var connection: OperatorOptions
        @Flag(help: "Only non-compliant devices (same as --verdict noncompliant).") var noncompliant = false
        @Option(help: "compliant, noncompliant, unknown, or none (not evaluated yet).") var verdict: String?
        @Option(help: "Only devices failing this policy rule.") var failing: String?
        @Option(help: "Only devices with this label, k=v.") var label: String?
        @Option(help: "os-release ID, e.g. debian.") var os: String?
        @Option(help: "os-release VERSION_ID, e.g. 12.") var osVersion: String?
        @Option(help: "Part of the hostname.") var hostname: String?
        @Option(help: "Last report before this time or age.") var seenBefore: String?
        @Option(help: "Last report after this time or age.") var seenAfter: String?
        @Option(help: "active (default), revoked, replaced, or all.") var state: String?
        @Option(help: "hostname, last_seen, enrolled, or verdict_since.") var sort: String?
        @Flag(help: "Descending order.") var descending = false
        @Option(help: "At most this many devices (pages of up to 500 are fetched as needed).") var limit = 100
        @Option(help: "Continue after a previous answer's nextCursor.") var cursor: String?
        @Option(help: OutputFormat.help) var format: OutputFormat = .table

        func validate() throws {
            guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
            if noncompliant, let verdict, verdict != "noncompliant" {
                throw ValidationError("--noncompliant and --verdict \(verdict) contradict each other")
            }
        }

        func run() async throws {
            try await FleetAPI.run(connection) { api in
                var query = Operations.ListDevices.Input.Query(
                    verdict: try choice(noncompliant ? "noncompliant" : verdict, for: "--verdict"),
                    failingRule: failing, label: label, os: os, osVersion: osVersion, hostname: hostname,
                    seenBefore: seenBefore, seenAfter: seenAfter, state: try choice(state, for: "--state"),
                    sort: try choice(sort, for: "--sort"), order: descending ? .desc : nil)
                var all = Components.Schemas.FleetPage(devices: [], nextCursor: cursor)
                repeat {
                    query.limit = min(limit - all.devices.count, 500)
                    query.cursor = all.nextCursor
                    let page = try await api.client.listDevices(query: query).ok.body.json
                    all.devices += page.devices
                    all.nextCursor = page.nextCursor
                } while all.nextCursor != nil && all.devices.count < limit
                switch format {
                case .json: print(try jsonText(all))
                case .table:
                    print(TextTable.terminalSafe(Self.table(all.devices)))
                    if let next = all.nextCursor {
                        print("… more devices: raise --limit, or continue with --cursor \(next)")
                    }
                }
            }
        }

        static func table(_ devices: [Components.Schemas.FleetDevice]) -> String {
            let rows = devices.map { device in
                [
                    String(device.id.prefix(8)), device.hostname,
                    (device.verdict?.rawValue ?? "none") + (device.quarantined ? "*" : ""),
                    TextTable.age(device.verdictSince),
                    TextTable.age(device.lastSeen), device.failing.joined(separator: ","),
                ]
            }
            return TextTable.render(
                ["ID", "HOSTNAME", "VERDICT", "SINCE", "SEEN", "FAILING"], rows, widths: [8, 18, 13, 5, 5, 19])
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One device: verdict and why, facts, verdict history, enforcement and refused reports.")
        @OptionGroup var connection: OperatorOptions
        @Argument(help: "A device ID, hostname:NAME or machine-id:HEX.") var id: String
        @Option(help: OutputFormat.help) var format: OutputFormat = .table

        func run() async throws {
            try await FleetAPI.run(connection) { api in
                let detail = try await api.client.getDevice(path: .init(id: id)).ok.body.json
                guard format == .table else { return print(try jsonText(detail)) }
                print(TextTable.terminalSafe(Self.render(try PostureReport.reencode(detail))))
            }
        }

        static func render(_ detail: DetailView) -> String {
            let device = detail.device
            var lines = [
                "device    \(device.id)", "hostname  \(device.hostname)  (\(device.state))",
                "os        \(device.os ?? "?") \(device.osVersion ?? "")",
                "labels    \(device.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))",
                "seen      \(TextTable.age(device.lastSeen)) ago",
                "verdict   \(device.verdict ?? "none") for \(TextTable.age(device.verdictSince))",
            ]
            if let key = detail.key {
                lines.append(
                    "key       \(key.protection)"
                        + (key.endorsementFingerprint.map { "  (TPM endorsement sha256:\($0.prefix(16))…)" } ?? ""))
            }
            if let maturity = detail.maturity {
                lines.append(
                    "maturity  \(maturity.stage)" + (maturity.next.map { "; for \($0):" } ?? " (CISA ZTMM devices)"))
                for item in maturity.missing {
                    lines += TextTable.wrap(item, first: "          - ", indent: "            ", width: 79)
                }
            }
            if let boot = detail.boot {
                let baseline = MeasuredBoot.baselineWording(
                    recorded: boot.baselineRecorded, changed: boot.changedPCRs)
                let secureBoot = boot.secureBoot.map { "; Secure Boot \($0 ? "on" : "off") (measured)" } ?? ""
                lines.append("boot      quoted PCR 0-9 \(baseline)\(secureBoot)")
                lines.append(
                    TextTable.cut("          event log \(boot.eventLog): \(boot.eventLogDetail ?? "")", to: 79))
            }
            if let verdict = detail.verdict {
                if let quarantine = verdict.quarantine {
                    lines.append("          quarantined by \(quarantine.by): \(quarantine.reason)")
                }
                for outcome in verdict.failing + verdict.unknown + verdict.excused {
                    lines.append(
                        TextTable.cut(
                            "  \(outcome.state.rawValue) \(outcome.rule) [\(outcome.severity.rawValue)]: \(outcome.observed), expected \(outcome.expected)",
                            to: 79))
                }
            }
            if !detail.verdictChanges.isEmpty { lines.append("history") }
            for change in detail.verdictChanges.prefix(10) {
                lines.append(
                    TextTable.cut(
                        "  \(TextTable.age(change.at)) ago  \(change.previousStatus ?? "-") -> \(change.status)  \(change.cause)",
                        to: 79))
            }
            for (title, events) in [("enforcement", detail.enforcement), ("refused reports", detail.refusals)]
            where !events.isEmpty {
                lines.append(title)
                for event in events.prefix(10) {
                    lines.append(
                        TextTable.cut("  \(TextTable.age(event.at)) ago  \(event.code)  \(event.message)", to: 79))
                }
            }
            if let report = detail.report { lines.append("facts\n" + ReportTable.render(report)) }
            return lines.joined(separator: "\n")
        }
    }

    struct Quarantine: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Quarantine a device: non-compliant at once, whatever its report says (exit 6 if already).")
        @OptionGroup var action: DeviceAction
        func run() async throws { try await action.apply("quarantine", done: "quarantined") }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Release a quarantined device: its report decides again (exit 6 if not quarantined).")
        @OptionGroup var action: DeviceAction
        func run() async throws { try await action.apply("release", done: "released") }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a device: its certificate is refused from the next handshake; it must enroll again.")
        @OptionGroup var action: DeviceAction
        func run() async throws { try await action.apply("revoke", done: "revoked") }
    }

    struct AcceptBoot: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "accept-boot",
            abstract:
                "Accept a TPM device's current boot (after a firmware or kernel update) as what measuredBoot expects (exit 6 if it has no quote)."
        )
        @OptionGroup var action: DeviceAction
        func run() async throws { try await action.apply("accept-boot", done: "accepted the boot of") }
    }

    /// What quarantine, release, revoke and accept-boot share: a device, a reason for the audit trail, the answer.
    struct DeviceAction: ParsableArguments {
        @OptionGroup var connection: OperatorOptions
        @Argument(help: "A device ID, hostname:NAME or machine-id:HEX.") var id: String
        @Option(help: "Why (recorded in the audit trail with your token's name).") var reason: String
        @Option(help: OutputFormat.help) var format: OutputFormat = .table

        func apply(_ action: String, done: String) async throws {
            try await FleetAPI.run(connection) { api in
                let client = try api.client
                let path = Operations.QuarantineDevice.Input.Path(id: id)
                let body = Components.Schemas.ReasonRequest(reason: reason)
                let detail =
                    switch action {
                    case "quarantine": try await client.quarantineDevice(path: path, body: .json(body)).ok.body.json
                    case "release":
                        try await client.releaseDevice(path: .init(id: path.id), body: .json(body)).ok.body.json
                    case "accept-boot":
                        try await client.acceptBoot(path: .init(id: path.id), body: .json(body)).ok.body.json
                    default: try await client.revokeDevice(path: .init(id: path.id), body: .json(body)).ok.body.json
                    }
                guard format == .table else { return print(try jsonText(detail)) }
                print(
                    TextTable.terminalSafe(
                        "\(done) \(detail.device.hostname) (\(detail.device.id)): verdict \(detail.device.verdict?.rawValue ?? "none")"
                    ))
            }
        }
    }
}

/// An option's value as one of the values openapi.yaml allows, refusing any other by name.
func choice<Value: RawRepresentable & CaseIterable>(_ text: String?, for option: String) throws -> Value?
where Value.RawValue == String {
    guard let text, !text.isEmpty else { return nil }
    guard let value = Value(rawValue: text) else {
        let allowed = Value.allCases.map(\.rawValue).filter { !$0.isEmpty }
        throw ValidationError("\(option) \(text): use \(allowed.joined(separator: ", "))")
    }
    return value
}

/// Sorted keys, pretty: the JSON posturectl writes itself.
func jsonText(_ value: some Encodable) throws -> String {
    String(decoding: try PostureReport.makeEncoder(pretty: true).encode(value), as: UTF8.self)
}
