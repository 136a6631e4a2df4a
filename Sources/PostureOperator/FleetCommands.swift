import ArgumentParser
import PostureAPI
import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `posturectl fleet summary`: the fleet at a glance.
struct FleetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet", abstract: "The fleet at a glance.", subcommands: [Summary.self])

    struct Summary: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Devices by verdict, the rules they fail, OS versions, and 14 days of verdict changes.")
        @OptionGroup var connection: OperatorOptions
        @Option(help: OutputFormat.help) var format: OutputFormat = .table

        func run() async throws {
            try await FleetAPI.run(connection) { api in
                let summary = try await api.client.getFleetSummary().ok.body.json
                guard format == .table else { return print(try jsonText(summary)) }
                print(TextTable.terminalSafe(Self.render(try PostureReport.reencode(summary))))
            }
        }

        static func render(_ summary: SummaryView) -> String {
            let verdicts = ["compliant", "noncompliant", "unknown", "none"].map {
                "\($0) \(summary.byVerdict[$0] ?? 0)"
            }
            var lines = [
                "\(summary.devices) active devices: " + verdicts.joined(separator: ", "),
                "quarantined \(summary.quarantined); silent for 24h \(summary.silent)",
            ]
            if let stages = summary.byStage {
                let counts = ["traditional", "initial", "advanced", "optimal"].map { "\($0) \(stages[$0] ?? 0)" }
                lines.append("maturity (CISA ZTMM devices): " + counts.joined(separator: ", "))
            }
            if !summary.byFailingRule.isEmpty {
                lines.append("\nfailing rules")
                lines += summary.byFailingRule.prefix(10).map {
                    "  \(TextTable.pad(String($0.devices), to: 7)) \($0.key)"
                }
            }
            if !summary.byOS.isEmpty {
                lines.append("\noperating systems")
                lines += summary.byOS.prefix(10).map { "  \(TextTable.pad(String($0.devices), to: 7)) \($0.key)" }
            }
            lines.append("\nbecame non-compliant / compliant, per day (UTC)")
            lines += summary.trend.suffix(7).map { "  \($0.day)  \($0.becameNoncompliant) / \($0.becameCompliant)" }
            return lines.joined(separator: "\n")
        }
    }
}

/// `posturectl waivers …`: time-bound exceptions to a rule.
struct WaiversCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "waivers", abstract: "Time-bound exceptions: a rule does not count for a device or a label.",
        subcommands: [Grant.self, List.self, Revoke.self])

    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Waive a rule for a device or a label, for a while.")
        @OptionGroup var connection: OperatorOptions
        @Option(help: "The policy rule's name.") var rule: String
        @Option(help: "A device ID.") var device: String?
        @Option(help: "A label k=v: every device carrying it.") var label: String?
        @Option(name: .customLong("for"), help: "How long, e.g. 4h or 7d (at most 90d).") var duration: String
        @Option(help: "Why (recorded in the audit trail).") var reason: String

        func run() async throws {
            try await FleetAPI.run(connection) { api in
                let body = Components.Schemas.WaiverRequest(
                    rule: rule, device: device, label: label, duration: duration, reason: reason)
                let waiver = try await api.client.createWaiver(body: .json(body)).created.body.json
                print("\(waiver.id) until \(waiver.expiresAt.formatted(.iso8601))")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List waivers, active, expired and revoked, newest first.",
            discussion: "--format json prints {\"waivers\": […], \"nextCursor\": …}; pass nextCursor to --cursor.")
        @OptionGroup var connection: OperatorOptions
        @Option(help: "At most this many (1 to 500).") var limit = 100
        @Option(help: "Continue after a previous answer's nextCursor.") var cursor: String?
        @Option(help: OutputFormat.help) var format: OutputFormat = .table

        func run() async throws {
            try await FleetAPI.run(connection) { api in
                let page = try await api.client.listWaivers(query: .init(limit: limit, cursor: cursor)).ok.body.json
                guard format == .table else { return print(try jsonText(page)) }
                let now = Date()
                let rows: [[String]] = page.waivers.map { (waiver: Components.Schemas.Waiver) -> [String] in
                    let scope =
                        waiver.deviceID.map { String($0.prefix(8)) }
                        ?? (waiver.label?.additionalProperties ?? [:]).map { "\($0.key)=\($0.value)" }.joined()
                    return [
                        waiver.id,
                        waiver.revokedAt != nil ? "revoked" : (waiver.expiresAt > now ? "active" : "expired"),
                        waiver.rule, scope, waiver.by + ": " + waiver.reason,
                    ]
                }
                print(
                    TextTable.terminalSafe(
                        TextTable.render(["ID", "STATE", "RULE", "FOR", "BY"], rows, widths: [10, 7, 20, 16, 17])))
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "End a waiver now.")
        @OptionGroup var connection: OperatorOptions
        @Argument var id: String
        @Option(help: "Why (recorded in the audit trail).") var reason: String

        func run() async throws {
            try await FleetAPI.run(connection) { api in
                _ = try await api.client.revokeWaiver(path: .init(id: id), body: .json(.init(reason: reason))).ok
                print("revoked \(id)")
            }
        }
    }
}

/// `posturectl tokens create`: enrollment tokens for new devices (scope admin).
struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens", abstract: "Enrollment tokens for new devices.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an enrollment token and print it once (the collector keeps only its hash).")
        @OptionGroup var connection: OperatorOptions
        @Flag(help: "Usable by any number of devices until it expires (default: one use).") var reusable = false
        @Flag(help: "May enroll a machine-id that is already enrolled (the old device is marked replaced).")
        var allowReenroll = false
        @Option(help: "Lifetime, e.g. 30m, 24h, 7d.") var ttl = "24h"
        @Option(name: .customLong("label"), help: "A label k=v for devices enrolled with it (repeatable).")
        var labels: [String] = []
        @Option(help: "Why (recorded in the audit trail).") var reason = "posturectl tokens create"

        func run() async throws {
            var parsed: [String: String] = [:]
            for label in labels {
                let parts = label.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { throw ValidationError("--label '\(label)' is not k=v") }
                parsed[String(parts[0])] = String(parts[1])
            }
            try await FleetAPI.run(connection) { api in
                let body = Components.Schemas.EnrollmentTokenRequest(
                    reusable: reusable, allowReenroll: allowReenroll, ttl: ttl,
                    labels: .init(additionalProperties: parsed), reason: reason)
                print(try await api.client.createEnrollmentToken(body: .json(body)).created.body.json.value1.token)
            }
        }
    }
}

/// `posturectl audit verify`: the collector recomputes its hash chain and compares it with its tables.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "The tamper-evident audit trail.", subcommands: [Verify.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the audit trail: exit 7 and name each edited, removed or reordered entry.",
            discussion: """
                Prints the head hash: keep it elsewhere and pass it back with --expect-head to also catch \
                the removal of the newest entries.
                """)
        @OptionGroup var connection: OperatorOptions
        @Option(help: ArgumentHelp("The head hash an earlier verify printed.", valueName: "hex")) var expectHead:
            String?
        @Option(help: OutputFormat.help) var format: OutputFormat = .table

        func run() async throws {
            try await FleetAPI.run(connection) { api in
                let report = try await api.client.verifyAuditTrail(query: .init(expectHead: expectHead)).ok.body.json
                if format == .json {
                    print(try jsonText(report))
                } else if report.intact {
                    print("audit trail intact: \(report.entries) entries, head \(report.head)")
                } else {
                    print("audit trail NOT intact: \(report.problems.count) problem(s) in \(report.entries) entries:")
                    for problem in report.problems { print(TextTable.terminalSafe(problem)) }
                }
                if !report.intact { throw ExitCode(FleetAPI.Exit.auditBroken) }
            }
        }
    }
}

/// `posturectl events`: refused attestations and enforcement reports.
struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "Security events: refused attestations (and why), agents' enforcement.")
    @OptionGroup var connection: OperatorOptions
    @Option(help: "Only this device's events.") var device: String?
    @Option(help: "A code, or a prefix ending in '.' (e.g. enforcement.).") var code: String?
    @Option var limit = 50
    @Option(help: OutputFormat.help) var format: OutputFormat = .table

    func run() async throws {
        try await FleetAPI.run(connection) { api in
            let page = try await api.client.listEvents(query: .init(device: device, code: code, limit: limit)).ok.body
                .json
            guard format == .table else { return print(try jsonText(page)) }
            let rows = page.events.map {
                [TextTable.age($0.at), String(($0.deviceID ?? "-").prefix(8)), $0.code, $0.message]
            }
            print(
                TextTable.terminalSafe(
                    TextTable.render(["AGE", "DEVICE", "CODE", "MESSAGE"], rows, widths: [5, 8, 24, 35])))
        }
    }
}

/// `posturectl policy preview FILE`: what a candidate policy would change, before anyone enforces it.
struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "See what a candidate policy would change in the fleet.",
        subcommands: [Preview.self])

    struct Preview: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Evaluates every device under the policy in force and under FILE (POST /v1/policy/preview, scope fleet:read): which devices would change verdict and why. Changes nothing."
        )
        @OptionGroup var connection: OperatorOptions
        @Argument(help: "The candidate policy file (YAML, as /etc/posture/policy.yaml).") var file: String
        @Option(help: "List at most this many changed devices (all are counted).") var limit = 100
        @Option(help: OutputFormat.help) var format: OutputFormat = .table

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: file) else {
                FleetAPI.printError("cannot read \(file); give the candidate policy file's path")
                throw ExitCode(1)
            }
            try await FleetAPI.run(connection) { api in
                let preview = try await api.client.previewPolicy(
                    query: .init(limit: limit), body: .json(.init(policy: String(decoding: data, as: UTF8.self)))
                ).ok.body.json
                guard format == .table else { return print(try jsonText(preview)) }
                let lines = try PostureReport.reencode(preview, as: PolicyPreview.self).lines
                print(TextTable.terminalSafe(lines.joined(separator: "\n")))
            }
        }
    }
}
