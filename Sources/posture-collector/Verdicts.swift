import ArgumentParser
import PostureCollector
import PostureModel
import PostureStore
import PostureVerdict

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Check a policy file, see what it makes of a report, or what it would change in the fleet.",
        subcommands: [Check.self, Test.self, Diff.self])

    struct Diff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "What a candidate policy would change: every device's newest report evaluated under the policy in force and under FILE. Changes nothing."
        )
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The candidate policy file.") var file: String
        @Option(help: "The policy to compare with (default: the configuration's policy.path).") var current: String?
        @Option(help: "List at most this many changed devices (all are counted).") var limit = 100
        @Option(help: "text, or json (PolicyPreview, as POST /v1/policy/preview answers).") var format = "text"

        func validate() throws {
            guard ["text", "json"].contains(format) else { throw ValidationError("--format is text or json") }
        }

        func run() async throws {
            let configuration = try options.load()
            let candidate = try PolicyParser.load(path: file)
            let inForce =
                try current.map { path throws(PolicyError) in try PolicyParser.load(path: path) }
                ?? PolicySource(path: configuration.policyPath).load()
            let started = ContinuousClock.now
            let preview = try await FleetOperations(offline: try await Collector.openStore(configuration))
                .previewPolicy(candidate, current: inForce, limit: limit, by: .local(currentUser))
            if format == "json" {
                print(try encode(preview))
                return
            }
            for line in preview.lines { print(line) }
            print("evaluated in \(ContinuousClock.now - started)")
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a policy file (file:line on error).")
        @OptionGroup var options: ConfigOptions
        @Argument var file: String

        func run() async throws {
            let policy = try PolicyParser.load(path: file)
            let grants = policy.grants.map(\.name).joined(separator: ", ")
            print(
                "\(file): \(policy.rules.count) rules, \(policy.grants.count) access grants\(grants.isEmpty ? "" : " (\(grants))"), version \(policy.version)"
            )
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Evaluate a policy file against a saved report (postured probe --format json), a device's newest report, or a folder of test cases with the verdicts expected."
        )
        @OptionGroup var options: ConfigOptions
        @Argument var file: String
        @Option(help: "A report JSON file, as `postured probe --format json` writes it.") var report: String?
        @Option(help: "A device ID: its newest stored report.") var device: String?
        @Option(name: .customLong("label"), help: "Device labels k=v for rule scopes (repeatable).") var labels:
            [String] = []
        @Option(
            help:
                "A folder of test cases (*.yaml: a recorded report and the verdict expected); exits 1 when one fails.")
        var cases: String?

        func run() async throws {
            let policy = try PolicyParser.load(path: file)
            if let cases {
                guard report == nil, device == nil, labels.isEmpty else {
                    throw ValidationError(
                        "--cases runs the cases' own reports and labels: drop --report, --device, --label")
                }
                try runCases(policy, in: cases)
                return
            }
            var facts: PostureReport
            var issuedAt = Date()
            var deviceLabels: [String: String] = [:]
            var keyProtection = KeyProtection.software
            var boot: BootEvidence?
            for label in labels {
                let parts = label.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { throw ValidationError("--label '\(label)' is not k=v") }
                deviceLabels[String(parts[0])] = String(parts[1])
            }
            if let report {
                guard let data = FileManager.default.contents(atPath: report) else {
                    throw ValidationError("cannot read --report \(report)")
                }
                facts = try PostureReport.makeDecoder().decode(PostureReport.self, from: data)
                issuedAt = facts.collectedAt
            } else if let device {
                let store = try await Collector.openStore(try options.load())
                guard let view = try await store.deviceView(device), let payload = view.latestPayload else {
                    throw CollectorError(.notFound, "device \(device) has no stored report")
                }
                let attestation = try PostureReport.makeDecoder().decode(
                    AttestationPayload.self, from: Data(payload.utf8))
                facts = attestation.report
                issuedAt = attestation.issuedAt
                deviceLabels.merge(view.device.labels) { given, _ in given }
                keyProtection = view.device.keyProtection
                // What the collector establishes for a TPM device: its stored PCRs (verified by the quote when
                // the report was accepted), the event log replayed, and its baseline.
                if keyProtection == .tpm {
                    boot = BootEvidence(
                        measured: MeasuredBoot(reported: facts),
                        baseline: view.device.tpm?.bootBaseline.map(MeasuredBoot.pcrMap))
                }
            } else {
                throw ValidationError("give --report FILE or --device ID")
            }
            let verdict = policy.evaluate(
                EvaluationInput(
                    deviceID: device ?? "report", labels: deviceLabels, report: facts, reportIssuedAt: issuedAt,
                    signals: [SignalSample(at: issuedAt, counts: facts.journal.value?.counts ?? [:])],
                    keyProtection: keyProtection, boot: boot, now: Date()))
            print(try encode(verdict))
        }

        /// Every case in the folder, in name order; a summary line as test runners print it.
        func runCases(_ policy: Policy, in directory: String) throws {
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
                throw ValidationError("--cases \(directory) is not a folder this user can read")
            }
            let names = entries.filter { $0.hasSuffix(".yaml") }.sorted()
            guard !names.isEmpty else {
                throw ValidationError(
                    "--cases \(directory) holds no *.yaml case; see posture-collector policy test --help")
            }
            var failed = 0
            for name in names {
                // A case that cannot be read fails, and the others still run.
                let problems: [String]
                do {
                    let testCase = try PolicyCase.load(path: directory + "/" + name)
                    problems = testCase.mismatches(testCase.evaluate(policy))
                } catch {
                    problems = ["\(error)"]
                }
                print("\(problems.isEmpty ? "PASS" : "FAIL") \(name.dropLast(".yaml".count))")
                for problem in problems { print("     \(problem)") }
                if !problems.isEmpty { failed += 1 }
            }
            print("\(names.count - failed) passed, \(failed) failed")
            if failed > 0 { throw ExitCode(1) }
        }
    }
}

struct APIToken: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apitoken", abstract: "API tokens for policy engines and SSF receivers.",
        subcommands: [Create.self, Certificate.self, List.self, Revoke.self])

    static let scopes = APITokens.scopes

    /// What every API credential has: a name, scopes, who made it.
    struct GrantOptions: ParsableArguments {
        @Option(
            help: "What uses it, e.g. the proxy's name: unique among active credentials (the actor in the audit trail)."
        )
        var name: String
        @Option(
            name: .customLong("scope"),
            help: "verdict:read, ssf:manage, metrics:read, fleet:read, fleet:write or admin (repeatable).")
        var scopes: [String]
        @Option(help: "Who (default: $SUDO_USER or $USER).") var by: String?

        func validate() throws {
            do {
                _ = try APITokens.validName(name)
            } catch {
                throw ValidationError("--name '\(name)': \(error.message)")
            }
            guard !scopes.isEmpty else { throw ValidationError("give at least one --scope") }
            for scope in scopes where !APIToken.scopes.contains(scope) {
                throw ValidationError("--scope \(scope) is not one of \(APIToken.scopes.joined(separator: ", "))")
            }
        }

        var who: String { by ?? currentUser }
        /// As stored: trimmed, like a name sent to the API.
        var credentialName: String { name.trimmingWhitespace() }

        func action(_ action: String, target: String, at now: Date) -> OperatorAction {
            OperatorAction(
                at: now, actor: who, action: action, deviceID: nil, target: target,
                reason: "\(credentialName): \(scopes.joined(separator: " "))")
        }
    }

    struct Certificate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue an API client certificate (mutual TLS instead of a bearer token) for a CSR.")
        @OptionGroup var options: ConfigOptions
        @OptionGroup var grant: GrantOptions
        @Option(help: "A PEM PKCS#10 request for a P-256 key (openssl req -new -newkey ec ...).") var csr: String
        @Option(help: "Lifetime, e.g. 90d.") var ttl: String = "90d"

        func run() async throws {
            guard let lifetime = DurationText(ttl) else { throw ValidationError("--ttl '\(ttl)' is not a duration") }
            guard let pem = try? String(contentsOfFile: csr, encoding: .utf8) else {
                throw ValidationError("cannot read --csr \(csr)")
            }
            let configuration = try options.load()
            let ca = try CertificateAuthority.loadOrCreate(configuration, now: Date())
            let key = try CertificateAuthority.devicePublicKey(fromCSR: pem)
            let now = Date()
            let clientID = UUID().uuidString.lowercased()
            let certificate = try ca.issueAPIClientCertificate(
                clientID: clientID, name: grant.credentialName, publicKey: key, lifetime: lifetime.duration, now: now)
            let store = try await Collector.openStore(configuration)
            try await store.insertAPIToken(
                APITokenRecord(
                    id: clientID, hash: APITokens.certificateHash(clientID: clientID), name: grant.credentialName,
                    scopes: grant.scopes,
                    createdAt: now, expiresAt: certificate.notValidAfter),
                recording: grant.action("apiclient-certificate", target: clientID, at: now))
            print(try certificate.serializeAsPEM().pemString)
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an API token and print it once (it is stored only as a hash).")
        @OptionGroup var options: ConfigOptions
        @OptionGroup var grant: GrantOptions
        @Option(help: "Lifetime, e.g. 90d (default: until revoked).") var ttl: String?

        func run() async throws {
            let request = APITokenRequest(name: grant.name, scopes: grant.scopes, ttl: ttl)
            print(try await options.fleet().createAPIToken(request, by: .local(grant.who)).token)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List API tokens (never their secret).")
        @OptionGroup var options: ConfigOptions
        @OptionGroup var paging: PageOptions

        func run() async throws {
            let now = Date()
            let page = try await options.fleet().apiTokens(
                limit: paging.limit, cursor: paging.cursor, by: .local(currentUser))
            for token in page.tokens {
                let state =
                    token.revokedAt != nil
                    ? "revoked" : (token.expiresAt.map { $0 > now } ?? true ? "active" : "expired")
                print("\(token.id)  \(state)  \(token.name)  \(token.scopes.joined(separator: " "))")
            }
            PageOptions.more(page.nextCursor)
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an API token (refused within 5 s).")
        @OptionGroup var options: ConfigOptions
        @Argument var id: String
        @Option(help: "Why (recorded in the audit trail).") var reason =
            "revoked with posture-collector apitoken revoke"
        @Option(help: "Who (default: $SUDO_USER or $USER).") var by: String?

        func run() async throws {
            _ = try await options.fleet().revokeAPIToken(id, reason: reason, by: .local(by ?? currentUser))
            print("revoked \(id)")
        }
    }
}

struct Waivers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "waivers", abstract: "Time-bound exceptions: a rule does not count for a device or label.",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Waive a rule for a device or a label, for a while.")
        @OptionGroup var options: ConfigOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The rule's name in the policy.") var rule: String
        @Option(help: "A device ID.") var device: String?
        @Option(help: "A label k=v: every device carrying it.") var label: String?
        @Option(name: .customLong("for"), help: "How long, e.g. 4h or 7d (at most 90d).") var duration: String

        func run() async throws {
            let request = WaiverRequest(
                rule: rule, device: device, label: label, duration: duration, reason: actor.reason)
            let waiver = try await options.fleet().createWaiver(request, by: actor.caller)
            print("\(waiver.id) until \(waiver.expiresAt.formatted(.iso8601))")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List waivers.")
        @OptionGroup var options: ConfigOptions
        @OptionGroup var paging: PageOptions

        func run() async throws {
            let page = try await options.fleet().waivers(
                limit: paging.limit, cursor: paging.cursor, by: .local(currentUser))
            for waiver in page.waivers {
                let state = waiver.revokedAt != nil ? "revoked" : (waiver.expiresAt > Date() ? "active" : "expired")
                let scope = waiver.deviceID.map { "device \($0)" } ?? "label \(waiver.label ?? [:])"
                print(
                    "\(waiver.id)  \(state)  \(waiver.rule)  \(scope)  until \(waiver.expiresAt.formatted(.iso8601))  by \(waiver.by): \(waiver.reason)"
                )
            }
            PageOptions.more(page.nextCursor)
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "End a waiver now.")
        @OptionGroup var options: ConfigOptions
        @OptionGroup var actor: ActorOptions
        @Argument var id: String

        func run() async throws {
            _ = try await options.fleet().revokeWaiver(id, reason: actor.reason, by: actor.caller)
            print("revoked \(id)")
        }
    }
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The audit trail: operator actions, verdict changes, agents' enforcement; and its check.",
        subcommands: [AuditShow.self, Verify.self], defaultSubcommand: AuditShow.self)

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the audit trail's hash chain against the store: exit 1 and name each bad entry.",
            discussion: """
                Finds an entry edited, removed or reordered in the trail, and a recorded action, verdict \
                change or enforcement report edited, removed or written around the trail. Prints the \
                head hash: keep it elsewhere and pass it back with --expect-head to also catch the \
                removal of the newest entries.
                """)
        @OptionGroup var options: ConfigOptions
        @Option(help: ArgumentHelp("The head hash an earlier verify printed.", valueName: "hex"))
        var expectHead: String?

        func run() async throws {
            let report = try await options.fleet().verifyAudit(expectingHead: expectHead, by: .local(currentUser))
            guard report.intact else { throw AuditTrailBroken(problems: report.problems, entries: report.entries) }
            print("audit trail intact: \(report.entries) entries, head \(report.head)")
        }
    }
}

/// Printed by ArgumentParser on standard error, exit code 1.
struct AuditTrailBroken: Error, CustomStringConvertible {
    var problems: [String]
    var entries: Int
    var description: String {
        "audit trail NOT intact: \(problems.count) problem(s) in \(entries) entries:\n"
            + problems.joined(separator: "\n")
    }
}

struct AuditShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Operator actions and verdict changes: who, when, why.")
    @OptionGroup var options: ConfigOptions
    @Option(help: "Only this device's verdict changes.") var device: String?
    @Option var limit: Int = 100

    func run() async throws {
        let store = try await Collector.openStore(try options.load())
        for action in try await store.operatorActions(after: 0, limit: 100_000).suffix(limit)
        where device == nil || action.deviceID == device {
            print(
                "\(action.at.formatted(.iso8601))  action  \(action.action)  by \(action.actor)  \(action.deviceID ?? action.target ?? "-")  \(action.reason)"
            )
        }
        if let device {
            for event in try await store.securityEvents(limit: 100_000).reversed()
            where event.deviceID == device && event.code.hasPrefix("enforcement.") {
                print("\(event.at.formatted(.iso8601))  device  \(event.code)  \(event.message)")
            }
        }
        for change in try await store.verdictChanges(deviceID: device, limit: limit).reversed() {
            print(
                "\(change.at.formatted(.iso8601))  verdict \(change.deviceID)  \(change.previousStatus ?? "-") -> \(change.status)  \(change.cause)"
            )
        }
    }
}
