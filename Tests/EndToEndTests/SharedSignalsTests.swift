import Foundation
import PostureModel
import TestSupport
import Testing

/// Shared Signals against a receiver nobody on the transmitter's side wrote: `Tests/SSFReceiver/`, written
/// in Python from SSF 1.0, CAEP 1.0, the CAEP interoperability profile and RFCs 8417/8935/8936/9493/9068
/// alone (its SPEC-NOTES.md cites the section of every check), verifying SETs with python3-jwt. It
/// discovers the transmitter, creates a stream, verifies it, pauses and resumes it, updates and replaces
/// it, receives the compliance changes an operator causes, and deletes it; the test passes when every
/// one of its checks does.
@Suite(.serialized, Requirement.available(programs: ["curl", "openssl", "/usr/bin/python3"]))
struct SharedSignalsTests {
    static let receiverDirectory = Paths.packageRoot.appendingPathComponent("Tests/SSFReceiver").path
    static let receiver = receiverDirectory + "/ssf_receiver.py"
    static let issuer = receiverDirectory + "/oauth_issuer.py"

    /// A TLS certificate for 127.0.0.1 (the receiver's push endpoint, the authorization server).
    func certificate(_ directory: URL, _ name: String) throws -> (certificate: String, key: String) {
        let certificate = directory.appendingPathComponent(name + ".crt").path
        let key = directory.appendingPathComponent(name + ".key").path
        try Shell.run([
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate, "-subj",
            "/CN=\(name)", "-days", "1", "-addext", "subjectAltName=IP:127.0.0.1",
        ])
        return (certificate, key)
    }

    /// The collector's issuer URL, the one its discovery document names (its first server name).
    func issuer(_ collector: CollectorHarness) -> String { "https://localhost:\(collector.apiPort)" }

    /// A device that has attested once (compliant), enrolled with its owner's address as a label.
    func attestedDevice(_ collector: CollectorHarness) throws -> String {
        let (state, deviceID) = try collector.enrollAgent(
            "agent", tokenOptions: ["--label", "owner=alice@example.com"])
        try Shell.run([CollectorHarness.agentBinary, "run", "--state-dir", state, "--count", "1"])
        return deviceID
    }

    /// Runs the independent receiver until it is ready, quarantines and releases the device, and returns
    /// its report once it has seen both changes (or failed).
    func runReceiver(
        _ collector: CollectorHarness, deviceID: String, directory: URL, delivery: String, token: String,
        extra: [String] = []
    ) throws -> (exit: Int32?, report: [String: Any], log: String) {
        let metricsToken = try collector.command([
            "apitoken", "create", "--name", "m-\(delivery)", "--scope", "metrics:read",
        ])
        .trimmingCharacters(in: .whitespacesAndNewlines)
        let ready = directory.appendingPathComponent("\(delivery)-ready.json").path
        let report = directory.appendingPathComponent("\(delivery)-report.json").path
        let log = directory.appendingPathComponent("\(delivery)-receiver.log").path
        let tokenFile = directory.appendingPathComponent("\(delivery)-token").path
        try token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let receiver = try BackgroundProcess(
            [
                "/usr/bin/python3", Self.receiver, "--transmitter", issuer(collector), "--cafile", collector.caPath,
                "--token-file", tokenFile, "--delivery", delivery, "--expect", "not-compliant:admin,compliant:admin",
                "--ready-file", ready, "--report", report, "--timeout", "120",
            ] + extra, logPath: log)
        let becameReady = BackgroundProcess.eventually(timeout: 90) {
            FileManager.default.fileExists(atPath: ready) || receiver.wait(timeout: 0) != nil
        }
        if becameReady, receiver.wait(timeout: 0) == nil {
            // Each change is awaited: a quarantine released before the collector applied it changes nothing.
            func changes(_ text: String) throws -> Int {
                try collector.command(["audit", "--device", deviceID]).components(separatedBy: text).count - 1
            }
            let quarantined = try changes("-> noncompliant  quarantine by alice")
            try collector.command([
                "devices", "quarantine", deviceID, "--reason", "laptop reported stolen", "--by", "alice",
            ])
            _ = BackgroundProcess.eventually(timeout: 10) {
                (try? changes("-> noncompliant  quarantine by alice")) == quarantined + 1
            }
            // And delivered: RFC 8936 answers a poll with an object keyed by jti, so two SETs polled at once
            // carry no order, and this test's receiver expects them in order.
            _ = BackgroundProcess.eventually(timeout: 20) {
                let metrics = try? Shell.run([
                    "curl", "-sS", "--cacert", collector.caPath, "-H", "Authorization: Bearer \(metricsToken)",
                    collector.apiURL + "/metrics",
                ]).stdout
                let line = metrics?.split(separator: "\n").first { $0.hasPrefix("posture_ssf_outbox_pending ") }
                return line.flatMap { Double($0.split(separator: " ").last ?? "") } == 0
            }
            try collector.command(["devices", "release", deviceID, "--reason", "laptop found", "--by", "alice"])
        }
        let exit = receiver.wait(timeout: 120)
        if exit == nil { receiver.signal(SIGKILL) }
        let text = (try? String(contentsOfFile: report, encoding: .utf8)) ?? "{}"
        let parsed = (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
        return (exit, parsed, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }

    func failedChecks(_ report: [String: Any]) -> [String] {
        ((report["checks"] as? [[String: Any]]) ?? []).filter { ($0["ok"] as? Bool) != true }.map {
            "\($0["name"] ?? "?"): \($0["detail"] ?? "")"
        }
    }

    /// A collector that takes receivers' OAuth access tokens from `oauth_issuer.py`, serving its key set
    /// over TLS on loopback; `mint` makes a token (options override the valid defaults).
    final class OAuthSetup {
        let collector: CollectorHarness
        let directory: URL
        let server: BackgroundProcess
        let keys: String
        let receiverTLS: (certificate: String, key: String)
        static let authorizationServer = "https://as.example"

        init(_ label: String, test: SharedSignalsTests) throws {
            directory = try Paths.temporaryDirectory(label)
            let tls = try test.certificate(directory, "as")
            receiverTLS = try test.certificate(directory, "receiver")
            let bundle = directory.appendingPathComponent("trusted.pem").path
            try
                (String(contentsOfFile: tls.certificate, encoding: .utf8)
                + String(contentsOfFile: receiverTLS.certificate, encoding: .utf8))
                .write(toFile: bundle, atomically: true, encoding: .utf8)
            keys = directory.appendingPathComponent("as").path
            let portFile = directory.appendingPathComponent("as.port").path
            server = try BackgroundProcess(
                [
                    "/usr/bin/python3", SharedSignalsTests.issuer, "serve", "--dir", keys, "--cert", tls.certificate,
                    "--key", tls.key, "--host", "127.0.0.1", "--port-file", portFile,
                ], logPath: directory.appendingPathComponent("as.log").path)
            guard BackgroundProcess.eventually(timeout: 20, { FileManager.default.fileExists(atPath: portFile) }) else {
                throw HarnessError("oauth_issuer.py did not start")
            }
            let port = try String(contentsOfFile: portFile, encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            collector = try CollectorHarness(
                label,
                configuration: """
                    ssf:
                      allowedDestinations: ["127.0.0.1"]
                      caBundle: \(bundle)
                      accessTokens: {issuer: "\(Self.authorizationServer)", jwksURI: "https://127.0.0.1:\(port)/jwks.json"}
                    """)
        }

        deinit { server.signal(SIGTERM) }

        func mint(_ options: [String] = []) throws -> String {
            let defaults: [(String, String)] = [
                ("--iss", Self.authorizationServer), ("--aud", "https://localhost:\(collector.apiPort)"),
                ("--sub", "okta-itp"), ("--client-id", "okta-itp"), ("--scope", "ssf.manage"),
            ]
            var arguments = ["/usr/bin/python3", SharedSignalsTests.issuer, "mint", "--dir", keys]
            for (option, value) in defaults where !options.contains(option) { arguments += [option, value] }
            return try Shell.run(arguments + options).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    @Test func anIndependentReceiverAcceptsPushAndPollStreams() throws {
        let setup = try OAuthSetup("e2e-ssf-receiver", test: self)
        let collector = setup.collector
        let deviceID = try attestedDevice(collector)
        let apiToken = try collector.command(["apitoken", "create", "--name", "idp", "--scope", "ssf:manage"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        // Push to an https endpoint, managed with an API token; poll, managed with an OAuth access token.
        for (delivery, token) in [("push", apiToken), ("poll", try setup.mint())] {
            let extra =
                delivery == "push"
                ? ["--push-cert", setup.receiverTLS.certificate, "--push-key", setup.receiverTLS.key] : []
            let run = try runReceiver(
                collector, deviceID: deviceID, directory: setup.directory, delivery: delivery, token: token,
                extra: extra)
            let checks = (run.report["checks"] as? [[String: Any]]) ?? []
            print("independent receiver, \(delivery): \(checks.count) checks, exit \(run.exit.map(String.init) ?? "-")")
            #expect(run.exit == 0, "\(delivery): \(failedChecks(run.report)) \(run.log.suffix(3000))")
            #expect(run.report["passed"] as? Bool == true)
            // Enough happened to mean something: discovery, create, verify, status, update, events, delete.
            #expect(checks.count >= 60, "\(delivery): only \(checks.count) checks ran")
        }
        // What the receivers did is in the audit trail, under their credentials.
        let audit = try collector.command(["audit"])
        #expect(audit.contains("ssf-stream-paused"), "\(audit)")
        #expect(audit.contains("apitoken:idp"), "\(audit)")
        #expect(audit.contains("oauth:okta-itp@\(OAuthSetup.authorizationServer)"), "\(audit)")
    }

    @Test func accessTokensAreRefusedForEveryFlawAndOwnTheirClientsStreams() throws {
        let setup = try OAuthSetup("e2e-ssf-oauth", test: self)
        let collector = setup.collector
        // The discovery document says OAuth (RFC 6749) is accepted besides bearer API tokens.
        let discovery = try Shell.run([
            "curl", "-sS", "--cacert", collector.caPath, collector.apiURL + "/.well-known/ssf-configuration",
        ]).stdout
        #expect(discovery.contains("urn:ietf:rfc:6749"), "\(discovery)")

        // Every way a token can be wrong: 401 with WWW-Authenticate (RFC 6750 §3), or 403 for the scope.
        func status(_ token: String) throws -> (Int, String) {
            let output = try Shell.runAllowingFailure([
                "curl", "-sS", "-D", "-", "-w", "%{http_code}", "--cacert", collector.caPath, "-H",
                "Authorization: Bearer \(token)", collector.apiURL + "/ssf/streams",
            ]).stdout
            return (Int(output.suffix(3)) ?? 0, output)
        }
        for (what, options, expected) in [
            ("expired", ["--expires-in", "-120"], 401), ("an ID token's typ", ["--typ", "JWT"], 401),
            ("another audience", ["--aud", "https://elsewhere.example"], 401),
            ("another issuer", ["--iss", "https://evil.example"], 401), ("an unknown key", ["--kid", "nope"], 401),
            ("no ssf.manage scope", ["--scope", "openid"], 403),
        ] {
            let (code, answer) = try status(try setup.mint(options))
            #expect(code == expected, "\(what): \(answer)")
            #expect(answer.lowercased().contains("www-authenticate: bearer"), "\(what): \(answer)")
        }
        let valid = try setup.mint()
        #expect(try status(valid).0 == 200)

        // Streams belong to the OAuth client: an API token with ssf:manage does not see them.
        let created = try Shell.run([
            "curl", "-sS", "--cacert", collector.caPath, "-H", "Authorization: Bearer \(valid)", "-H",
            "Content-Type: application/json", "--data", #"{"delivery": {"method": "urn:ietf:rfc:8936"}}"#,
            collector.apiURL + "/ssf/streams",
        ]).stdout
        let stream = try #require(try JSONSerialization.jsonObject(with: Data(created.utf8)) as? [String: Any])
        let streamID = try #require(stream["stream_id"] as? String, "\(created)")
        // Its audience is the client, unless the receiver named one.
        #expect(stream["aud"] as? String == "okta-itp")
        let other = try collector.command(["apitoken", "create", "--name", "other", "--scope", "ssf:manage"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let seen = try Shell.runAllowingFailure([
            "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", collector.caPath, "-H",
            "Authorization: Bearer \(other)", collector.apiURL + "/ssf/streams?stream_id=\(streamID)",
        ]).stdout
        #expect(seen == "404")
        // A new token of the same client manages the same stream.
        let again = try setup.mint()
        #expect(again != valid)
        let reread = try Shell.runAllowingFailure([
            "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", collector.caPath, "-H",
            "Authorization: Bearer \(again)", collector.apiURL + "/ssf/streams?stream_id=\(streamID)",
        ]).stdout
        #expect(reread == "200")
    }

    /// The claims of a SET (its signature is checked by the receiver tests; here only what it says).
    func claims(_ set: String) throws -> [String: Any] {
        let data = try #require(Base64URL.decode(set.split(separator: ".")[1]))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func anOperatorsPauseIsAnnouncedToTheReceiverAndHoldsItsEvents() throws {
        let collector = try CollectorHarness("e2e-ssf-operator")
        let deviceID = try attestedDevice(collector)
        let receiver = try collector.command(["apitoken", "create", "--name", "idp", "--scope", "ssf:manage"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let operatorToken = try collector.command([
            "apitoken", "create", "--name", "ops", "--scope", "fleet:read", "--scope", "fleet:write",
        ]).trimmingCharacters(in: .whitespacesAndNewlines)
        func call(_ token: String, _ method: String, _ path: String, _ body: String? = nil) throws -> (Int, String) {
            let output = try Shell.runAllowingFailure(
                [
                    "curl", "-sS", "--cacert", collector.caPath, "-X", method, "-w", "\n%{http_code}", "-H",
                    "Authorization: Bearer \(token)", "-H", "Content-Type: application/json",
                ] + (body.map { ["--data", $0] } ?? []) + [collector.apiURL + path])
            let lines = output.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
        }
        let (created, createdBody) = try call(
            receiver, "POST", "/ssf/streams",
            #"{"events_requested": ["https://schemas.openid.net/secevent/caep/event-type/device-compliance-change"]}"#)
        #expect(created == 201, "\(createdBody)")
        let stream = try #require(
            try JSONSerialization.jsonObject(with: Data(createdBody.utf8)) as? [String: Any])
        let streamID = try #require(stream["stream_id"] as? String)
        /// Polls, acknowledging everything, and returns the SETs' claims.
        func poll() throws -> [[String: Any]] {
            let (code, body) = try call(receiver, "POST", "/ssf/poll/\(streamID)", #"{"returnImmediately": true}"#)
            #expect(code == 200, "\(body)")
            let answer = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
            let sets = (answer["sets"] as? [String: String]) ?? [:]
            if !sets.isEmpty {
                let acks = try JSONSerialization.data(withJSONObject: [
                    "ack": Array(sets.keys), "returnImmediately": true,
                ])
                _ = try call(receiver, "POST", "/ssf/poll/\(streamID)", String(decoding: acks, as: UTF8.self))
            }
            return try sets.values.map(claims)
        }
        func event(_ claims: [String: Any], _ type: String) -> [String: Any]? {
            (claims["events"] as? [String: Any])?[type] as? [String: Any]
        }
        let updated = "https://schemas.openid.net/secevent/ssf/event-type/stream-updated"
        let change = "https://schemas.openid.net/secevent/caep/event-type/device-compliance-change"

        // The operator pauses it: the receiver hears so (though it never asked for stream-updated events).
        let (paused, pausedBody) = try call(
            operatorToken, "POST", "/v1/ssf/streams/\(streamID)/status",
            #"{"status": "paused", "reason": "receiver over quota"}"#)
        #expect(paused == 200, "\(pausedBody)")
        let announced = try poll()
        #expect(announced.count == 1)
        let pause = try #require(announced.first.flatMap { event($0, updated) })
        #expect(pause["status"] as? String == "paused")
        #expect(pause["reason"] as? String == "receiver over quota")
        #expect((announced.first?["sub_id"] as? [String: Any])?["id"] as? String == streamID)
        #expect(try call(receiver, "GET", "/ssf/status?stream_id=\(streamID)").1.contains("receiver over quota"))

        // While paused, a compliance change is held.
        try collector.command(["devices", "quarantine", deviceID, "--reason", "stolen", "--by", "alice"])
        #expect(
            BackgroundProcess.eventually(timeout: 10) {
                (try? collector.command(["audit", "--device", deviceID]))?.contains("quarantine by alice") == true
            })
        Thread.sleep(forTimeInterval: 1)
        #expect(try poll().isEmpty)

        // Enabled again: the announcement, then what was held.
        #expect(
            try call(
                operatorToken, "POST", "/v1/ssf/streams/\(streamID)/status",
                #"{"status": "enabled", "reason": "quota raised"}"#
            ).0 == 200)
        let resumed = try poll()
        #expect(resumed.count == 2, "\(resumed)")
        #expect(resumed.contains { event($0, updated)?["status"] as? String == "enabled" })
        #expect(resumed.contains { event($0, change)?["current_status"] as? String == "not-compliant" })

        // The operators' view names the stream's owner; the audit trail has who paused it and why.
        let (listed, list) = try call(operatorToken, "GET", "/v1/ssf/streams")
        #expect(listed == 200 && list.contains(streamID) && list.contains("\"status\":\"enabled\""), "\(list)")
        #expect(try call(receiver, "GET", "/v1/ssf/streams").0 == 403)
        #expect(try collector.command(["audit"]).contains("ssf-stream-paused  by apitoken:ops"))
    }
}
