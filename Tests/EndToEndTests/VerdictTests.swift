import Foundation
import TestSupport
import Testing

/// Verdicts end to end: a real collector and agent, curl as the policy engine, Debian's python3-jwt as the
/// independent verifier of JWTs and SETs, and a Python HTTP server as the Shared Signals receiver.
@Suite(.serialized, Requirement.available(programs: ["curl", "/usr/bin/python3"]))
struct VerdictTests {
    /// Verifies a JWT (argv[2]) against a JWKS file (argv[1]); prints the claims as JSON.
    static let verifyScript = """
        import json, sys, jwt
        jwks = jwt.PyJWKSet.from_json(open(sys.argv[1]).read())
        token = sys.argv[2]
        kid = jwt.get_unverified_header(token)["kid"]
        key = next(k for k in jwks.keys if k.key_id == kid)
        claims = jwt.decode(token, key.key, algorithms=["ES256", "RS256"], options={"verify_aud": False})
        print(json.dumps({"header": jwt.get_unverified_header(token), "claims": claims}))
        """

    /// An RFC 8935 receiver over TLS (certificate argv[3], key argv[4]): each POST body appended to argv[2]
    /// (one per line), answered 202; while the file argv[5] exists, answered 400 with an RFC 8935 error
    /// (and the file removed: one refusal).
    static let receiverScript = """
        import json, os, ssl, sys
        from http.server import BaseHTTPRequestHandler, HTTPServer
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                if os.path.exists(sys.argv[5]):
                    os.remove(sys.argv[5])
                    answer = json.dumps({"err": "invalid_audience", "description": "not ours"}).encode()
                    self.send_response(400); self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer))); self.end_headers(); self.wfile.write(answer)
                    return
                with open(sys.argv[2], "a") as f:
                    f.write(self.headers.get("Content-Type", "") + " " + self.headers.get("Authorization", "") + " " + body + "\\n")
                self.send_response(202); self.end_headers()
            def log_message(self, *args): pass
        server = HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[3], sys.argv[4])
        server.socket = context.wrap_socket(server.socket, server_side=True)
        server.serve_forever()
        """

    let policy = """
        report: {maxAge: 1h}
        rules:
          - {name: sshd-no-empty-passwords, check: sshd, permitEmptyPasswords: false, severity: high}
        """

    /// A running collector whose policy file (`text`, or `policy`) lives in a new scratch directory.
    func collectorWithPolicy(_ label: String, _ text: String? = nil) throws -> (
        collector: CollectorHarness, directory: URL, policyPath: String
    ) {
        let directory = try Paths.temporaryDirectory(label)
        let policyPath = directory.appendingPathComponent("policy.yaml").path
        try (text ?? policy).write(toFile: policyPath, atomically: true, encoding: .utf8)
        // A Shared Signals receiver on loopback, with its own certificate: both must be allowed explicitly.
        try Shell.run([
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
            directory.appendingPathComponent("receiver.key").path, "-out",
            directory.appendingPathComponent("receiver.crt").path, "-subj", "/CN=receiver", "-days", "1", "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        let configuration = """
            policy: {path: \(policyPath)}
            ssf: {allowedDestinations: ["127.0.0.1"], caBundle: \(directory.appendingPathComponent("receiver.crt").path)}
            """
        return (try CollectorHarness(label, configuration: configuration), directory, policyPath)
    }

    @Test func verdictsArePulledSignedLongPolledAndPushedAsCAEPEvents() throws {
        let (collector, directory, _) = try collectorWithPolicy("e2e-verdicts")
        let (state, deviceID) = try collector.enrollAgent("agent")
        try Shell.run([CollectorHarness.agentBinary, "run", "--state-dir", state, "--count", "1", "--interval", "1s"])

        // No token, a token without the scope: refused with the fix named.
        let anonymous = split(try curl(collector, "/v1/devices/\(deviceID)/verdict", token: "nope"))
        #expect(anonymous.1 == 401)
        #expect(anonymous.0.contains("apitoken create"))
        let ssfOnly = try collector.command(["apitoken", "create", "--name", "receiver", "--scope", "ssf:manage"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(split(try curl(collector, "/v1/devices/\(deviceID)/verdict", token: ssfOnly)).1 == 403)
        let token = try collector.command([
            "apitoken", "create", "--name", "proxy", "--scope", "verdict:read", "--scope", "ssf:manage",
        ]).trimmingCharacters(in: .whitespacesAndNewlines)

        // Prometheus metrics (before any restart of the collector resets them): refused without a token or with another scope; with metrics:read, the
        // attestation counter equals what the store holds, and one enrollment was accepted.
        #expect(split(try curl(collector, "/metrics", token: "nope")).1 == 401)
        #expect(split(try curl(collector, "/metrics", token: token)).1 == 403)
        let scraper = try collector.command(["apitoken", "create", "--name", "prometheus", "--scope", "metrics:read"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try curl(collector, "/v1/devices/\(deviceID)/verdict?wait=1s", token: token)
        let (metrics, metricsStatus) = split(try curl(collector, "/metrics", token: scraper))
        #expect(metricsStatus == 200)
        let stored = try collector.attestations(deviceID).count
        #expect(stored >= 1)
        #expect(
            metrics.contains("posture_attestations_total{result=\"accepted\",reason=\"-\"} \(stored)"), "\(metrics)")
        #expect(metrics.contains("posture_enrollments_total{result=\"accepted\",reason=\"-\"} 1"), "\(metrics)")
        #expect(
            metrics.contains("posture_devices{verdict=\"noncompliant\"} 1")
                || metrics.contains("posture_devices{verdict=\"compliant\"} 1"), "\(metrics)")
        #expect(
            metrics.contains(
                "posture_http_request_duration_seconds_count{listener=\"devices\",route=\"/v1/attestations\",method=\"POST\",status=\"2xx\"}"
            ), "\(metrics)")
        // Long-polls in their own series; what else runs and expires.
        #expect(
            metrics.contains(
                "posture_http_longpoll_duration_seconds_count{listener=\"api\",route=\"/v1/devices/{id}/verdict\""),
            "\(metrics)")
        #expect(metrics.contains("posture_build_info{version=\""))
        #expect(metrics.contains("posture_certificate_expiry_timestamp_seconds{certificate=\"server\"}"))
        #expect(metrics.contains("posture_signing_keys_published{alg=\"ES256\"} 1"))
        #expect(metrics.contains("posture_ssf_outbox_pending "))
        #expect(metrics.contains("posture_store_commit_duration_seconds_count \(stored)"), "\(metrics)")

        // Pull: JSON and a JWT that python3-jwt verifies with the published JWKS.
        let (body, status) = split(
            try curl(collector, "/v1/devices/\(deviceID)/verdict", token: token, extra: ["-D", "-"]))
        #expect(status == 200)
        let jwksPath = directory.appendingPathComponent("jwks.json").path
        let jwksHeaders = try Shell.run([
            "curl", "-sS", "--cacert", collector.caPath, "-o", jwksPath, "-D", "-",
            collector.apiURL + "/.well-known/jwks.json",
        ]).stdout.lowercased()
        #expect(jwksHeaders.contains("cache-control: public, max-age=300"), "\(jwksHeaders)")
        let jsonStart = try #require(body.firstIndex(of: "{"))
        let response = try json(String(body[jsonStart...]))
        let verdict = try #require(response["verdict"] as? [String: Any])
        #expect(verdict["status"] as? String == "compliant")
        let etag = try #require(body.split(separator: "\r\n").first { $0.lowercased().hasPrefix("etag:") })
            .split(separator: " ").last.map(String.init)!
        let verified = try json(
            try Shell.run([
                "/usr/bin/python3", "-c", Self.verifyScript, jwksPath, try #require(response["jwt"] as? String),
            ]).stdout)
        let claims = try #require(verified["claims"] as? [String: Any])
        #expect(claims["sub"] as? String == deviceID)
        #expect(claims["status"] as? String == "compliant")
        // Explicitly typed, with its own audience: never mistaken for a SET (RFC 8725 §3.11).
        #expect((verified["header"] as? [String: Any])?["typ"] as? String == "posture-verdict+jwt")
        #expect(claims["aud"] as? String == "urn:posture:verdict")
        #expect((claims["exp"] as? Int ?? 0) > Int(Date().timeIntervalSince1970))
        #expect((claims["exp"] as? Int ?? .max) <= Int(Date().timeIntervalSince1970) + 300)
        // A tampered token fails verification.
        let jwt = try #require(response["jwt"] as? String)
        let tampered = jwt.replacingOccurrences(of: ".", with: ".e", options: [], range: jwt.range(of: "."))
        #expect(
            try Shell.runAllowingFailure(["/usr/bin/python3", "-c", Self.verifyScript, jwksPath, tampered]).status != 0)
        // Look-up by machine-id and hostname finds the same device; If-None-Match answers 304.
        let machineID = try String(contentsOfFile: state + "/../agent-root/etc/machine-id", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(
            split(try curl(collector, "/v1/devices/machine-id:\(machineID)/verdict", token: token)).0.contains(deviceID)
        )
        let hostname = try #require((claims["device"] as? [String: Any])?["hostname"] as? String)
        #expect(
            split(try curl(collector, "/v1/devices/hostname:\(hostname)/verdict", token: token)).0.contains(deviceID))
        let fingerprint = try Shell.run([
            "sh", "-c", "openssl x509 -in '\(state)/device.crt' -outform der | sha256sum | cut -d' ' -f1",
        ]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(
            split(try curl(collector, "/v1/devices/sha256:\(fingerprint)/verdict", token: token)).0.contains(deviceID))
        let zeros = String(repeating: "0", count: 64)
        #expect(split(try curl(collector, "/v1/devices/sha256:\(zeros)/verdict", token: token)).1 == 404)
        #expect(
            split(
                try curl(
                    collector, "/v1/devices/\(deviceID)/verdict", token: token, extra: ["-H", "If-None-Match: \(etag)"])
            ).1 == 304)

        // A receiver registers a push stream.
        let receiverPort = try freeLoopbackPort()
        let received = directory.appendingPathComponent("received.txt").path
        let refuseNext = directory.appendingPathComponent("refuse-next").path
        let receiverFiles =
            ["receiver.crt", "receiver.key"].map { directory.appendingPathComponent($0).path } + [
                refuseNext
            ]
        var receiver: BackgroundProcess? = try BackgroundProcess(
            ["/usr/bin/python3", "-c", Self.receiverScript, String(receiverPort), received] + receiverFiles,
            logPath: directory.appendingPathComponent("receiver.log").path)
        let streamRequest = """
            {"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": "https://127.0.0.1:\(receiverPort)/events",
             "authorization_header": "Bearer receiver-secret"},
             "events_requested": ["https://schemas.openid.net/secevent/caep/event-type/device-compliance-change"],
             "aud": "https://proxy.example", "posture_subject_format": "uri"}
            """
        let created = split(
            try curl(
                collector, "/ssf/streams", token: token,
                extra: ["-X", "POST", "-H", "Content-Type: application/json", "--data", streamRequest]))
        #expect(created.1 == 201, "\(created.0)")
        // Only https, and only where ssf.allowedDestinations allows: a token with ssf:manage cannot make the
        // collector a proxy into the operator's network (cloud metadata, another loopback port).
        for endpoint in [
            "http://127.0.0.1:\(receiverPort)/events", "https://169.254.169.254/latest",
            "https://[::1]:\(receiverPort)/x",
        ] {
            let refused = split(
                try curl(
                    collector, "/ssf/streams", token: token,
                    extra: [
                        "-X", "POST", "-H", "Content-Type: application/json", "--data",
                        #"{"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": "\#(endpoint)"}}"#,
                    ]))
            #expect(refused.1 == 400 && refused.0.contains("malformed_request"), "\(endpoint): \(refused.0)")
        }
        let discovery = try json(
            try Shell.run([
                "curl", "-sS", "--cacert", collector.caPath, collector.apiURL + "/.well-known/ssf-configuration",
            ]).stdout)
        #expect((discovery["delivery_methods_supported"] as? [String])?.contains("urn:ietf:rfc:8935") == true)
        // One issuer: the verdict JWT names the same `iss` as the discovery document (the bound port).
        #expect(discovery["issuer"] as? String == claims["iss"] as? String)
        #expect((claims["iss"] as? String)?.hasSuffix(":\(collector.apiPort)") == true)

        // A long-poll waiting on the current ETag returns as soon as an operator quarantines the device.
        let pollOutput = directory.appendingPathComponent("longpoll.txt").path
        let longPoll = try BackgroundProcess(
            [
                "/usr/bin/curl", "-sS", "--cacert", collector.caPath, "-H", "Authorization: Bearer \(token)", "-H",
                "If-None-Match: \(etag)",
                collector.apiURL + "/v1/devices/\(deviceID)/verdict?wait=60s",
            ], logPath: pollOutput)
        Thread.sleep(forTimeInterval: 1)
        #expect(longPoll.wait(timeout: 0.1) == nil, "the long-poll returned before anything changed")
        let quarantinedAt = Date()
        try collector.command([
            "devices", "quarantine", deviceID, "--reason", "laptop reported stolen", "--by", "alice",
        ])
        #expect(longPoll.wait(timeout: 10) == 0)
        let pollSeconds = Date().timeIntervalSince(quarantinedAt)
        print("long-poll answered \(String(format: "%.3f", pollSeconds)) s after the quarantine command")
        let changed = try json(String(contentsOfFile: pollOutput, encoding: .utf8))
        #expect((changed["verdict"] as? [String: Any])?["status"] as? String == "noncompliant")

        // Exactly one CAEP SET reaches the receiver, verifiable with the JWKS (RS256 by default).
        #expect(
            BackgroundProcess.eventually(timeout: 10) {
                ((try? String(contentsOfFile: received, encoding: .utf8)) ?? "").contains("\n")
            })
        Thread.sleep(forTimeInterval: 1.5)
        var lines = try String(contentsOfFile: received, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1)
        let first = lines[0].split(separator: " ")
        #expect(first[0] == "application/secevent+jwt")
        #expect(first[2] == "receiver-secret")
        let set = try json(
            try Shell.run(["/usr/bin/python3", "-c", Self.verifyScript, jwksPath, String(first[3])]).stdout)
        #expect((set["header"] as? [String: Any])?["typ"] as? String == "secevent+jwt")
        #expect((set["header"] as? [String: Any])?["alg"] as? String == "RS256")
        let setClaims = try #require(set["claims"] as? [String: Any])
        #expect(setClaims["aud"] as? String == "https://proxy.example")
        let events = try #require(setClaims["events"] as? [String: Any])
        let event = try #require(
            events["https://schemas.openid.net/secevent/caep/event-type/device-compliance-change"] as? [String: Any])
        #expect(event["previous_status"] as? String == "compliant")
        #expect(event["current_status"] as? String == "not-compliant")
        #expect(event["event_timestamp"] is Int)
        // An operator's quarantine: initiated by an admin (CAEP initiating_entity).
        #expect(event["initiating_entity"] as? String == "admin")
        // The stream asked for the device's URI as its subject (posture_subject_format), in both places.
        let subject = try #require((setClaims["sub_id"] as? [String: Any])?["device"] as? [String: Any])
        #expect((subject["uri"] as? String)?.hasSuffix("/device/\(deviceID)") == true)
        #expect(
            ((event["subject"] as? [String: Any])?["device"] as? [String: Any])?["uri"] as? String == subject["uri"]
                as? String)

        // Receiver down, release, collector restarted: the event arrives once the receiver is back, once.
        receiver?.signal(SIGKILL)
        _ = receiver?.wait()
        receiver = nil
        try collector.command(["devices", "release", deviceID, "--reason", "laptop found", "--by", "alice"])
        #expect(
            BackgroundProcess.eventually(timeout: 10) {
                (try? collector.command(["audit", "--device", deviceID]))?.contains("-> compliant  release by alice")
                    == true
            })
        Thread.sleep(forTimeInterval: 1.5)  // at least one failed push attempt
        collector.stop()
        try collector.start()
        receiver = try BackgroundProcess(
            ["/usr/bin/python3", "-c", Self.receiverScript, String(receiverPort), received] + receiverFiles,
            logPath: directory.appendingPathComponent("receiver2.log").path)
        #expect(
            BackgroundProcess.eventually(timeout: 30) {
                ((try? String(contentsOfFile: received, encoding: .utf8)) ?? "").split(separator: "\n").count >= 2
            })
        Thread.sleep(forTimeInterval: 2)
        lines = try String(contentsOfFile: received, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        let second = try json(
            try Shell.run([
                "/usr/bin/python3", "-c", Self.verifyScript, jwksPath, String(lines[1].split(separator: " ")[3]),
            ]).stdout)
        let secondEvent =
            ((second["claims"] as? [String: Any])?["events"] as? [String: Any])?.values.first as? [String: Any]
        #expect(secondEvent?["current_status"] as? String == "compliant")

        // A receiver that refuses a SET for good (RFC 8935 err): recorded, not retried, and the stream goes on.
        try Data().write(to: URL(fileURLWithPath: refuseNext))
        try collector.command(["devices", "quarantine", deviceID, "--reason", "again", "--by", "alice"])
        #expect(BackgroundProcess.eventually(timeout: 10) { !FileManager.default.fileExists(atPath: refuseNext) })
        try collector.command(["devices", "release", deviceID, "--reason", "fine", "--by", "alice"])
        #expect(
            BackgroundProcess.eventually(timeout: 15) {
                ((try? String(contentsOfFile: received, encoding: .utf8)) ?? "").split(separator: "\n").count >= 3
            })
        Thread.sleep(forTimeInterval: 1.5)
        lines = try String(contentsOfFile: received, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3, "the refused SET was retried, or the next one never came")
        let (rejectedMetrics, _) = split(try curl(collector, "/metrics", token: scraper))
        #expect(
            rejectedMetrics.contains("posture_ssf_push_deliveries_total{result=\"rejected\"} 1"), "\(rejectedMetrics)")

        // The audit trail names who, what and why.
        let audit = try collector.command(["audit"])
        #expect(audit.contains("quarantine  by alice"))
        #expect(audit.contains("laptop reported stolen"))
        #expect(audit.contains("noncompliant  quarantine by alice"))

        // ... in a hash chain: intact, until someone rewrites history in the SQLite file directly.
        let intact = try collector.command(["audit", "verify"])
        #expect(intact.hasPrefix("audit trail intact: "), "\(intact)")
        let head = String(intact.split(separator: " ").last ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try collector.command(["audit", "verify", "--expect-head", head]).hasPrefix("audit trail intact"))
        try Shell.run([
            "/usr/bin/python3", "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(\"UPDATE operator_actions SET reason = 'routine check' WHERE action = 'quarantine' AND reason = 'laptop reported stolen'\"); c.commit()",
            collector.stateDirectory + "/collector.sqlite",
        ])
        let verify = try Shell.runAllowingFailure(
            [CollectorHarness.collectorBinary, "audit", "verify", "--state-dir", collector.stateDirectory])
        #expect(verify.status == 1)
        #expect(verify.stderr.contains("audit trail NOT intact"), "\(verify.stderr)")
        // Exactly one entry is named: the quarantine whose reason was rewritten.
        #expect(verify.stderr.contains("1 problem(s)"), "\(verify.stderr)")
        #expect(verify.stderr.contains("(operator-action, source row "), "\(verify.stderr)")
        #expect(verify.stderr.contains("was changed after it was recorded"), "\(verify.stderr)")
        receiver?.signal(SIGKILL)
    }

    @Test func aBrokenPolicyIsRefusedWithItsLineAndTheOldOneStays() throws {
        let (collector, directory, policyPath) = try collectorWithPolicy("e2e-policy")
        let (state, deviceID) = try collector.enrollAgent("agent")
        try Shell.run([CollectorHarness.agentBinary, "run", "--state-dir", state, "--count", "1", "--interval", "1s"])
        let token = try collector.command(["apitoken", "create", "--name", "p", "--scope", "verdict:read"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let before = try json(split(try curl(collector, "/v1/devices/\(deviceID)/verdict", token: token)).0)
        let oldVersion = (before["verdict"] as? [String: Any])?["policyVersion"] as? String

        try (policy + "\n  - {name: typo, check: rootEncrypted, sevrity: high}\n").write(
            toFile: policyPath, atomically: true, encoding: .utf8)
        collector.server?.signal(SIGHUP)
        #expect(BackgroundProcess.eventually(timeout: 10) { collector.server?.log.contains("policy refused") == true })
        let log = collector.server?.log ?? ""
        #expect(log.contains("\(policyPath):4: unknown key 'sevrity'"), "\(log)")
        let after = try json(split(try curl(collector, "/v1/devices/\(deviceID)/verdict", token: token)).0)
        #expect((after["verdict"] as? [String: Any])?["policyVersion"] as? String == oldVersion)

        // A good file is picked up on change alone (no signal), and the verdict follows it.
        try (policy + "\n  - {name: root, check: rootEncrypted, severity: critical}\n").write(
            toFile: policyPath, atomically: true, encoding: .utf8)
        let ok = BackgroundProcess.eventually(timeout: 10) {
            let now = (try? json(split(try curl(collector, "/v1/devices/\(deviceID)/verdict", token: token)).0)) ?? [:]
            return (now["verdict"] as? [String: Any])?["policyVersion"] as? String != oldVersion
        }
        #expect(ok)
        // `policy check` and `policy test` agree with the collector.
        #expect(try collector.command(["policy", "check", policyPath]).contains("2 rules"))
        let tested = try json(try collector.command(["policy", "test", policyPath, "--device", deviceID]))
        let served = try json(split(try curl(collector, "/v1/devices/\(deviceID)/verdict", token: token)).0)
        #expect(tested["status"] as? String == (served["verdict"] as? [String: Any])?["status"] as? String)
        #expect(
            tested["policyVersion"] as? String == (served["verdict"] as? [String: Any])?["policyVersion"] as? String)
        let broken = try Shell.runAllowingFailure([
            CollectorHarness.collectorBinary, "policy", "check", directory.path + "/nope.yaml",
        ])
        #expect(broken.status != 0)
        #expect(broken.stderr.contains("nope.yaml"))
    }

    func verdictStatus(_ collector: CollectorHarness, _ deviceID: String, token: String) -> String? {
        let body = (try? curl(collector, "/v1/devices/\(deviceID)/verdict", token: token)).map(split)?.0 ?? ""
        let object = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
        return (object?["verdict"] as? [String: Any])?["status"] as? String
    }

    @Test func theAgentLearnsItsVerdictByLongPoll() throws {
        let (collector, directory, _) = try collectorWithPolicy("e2e-agent-verdict")
        let (state, deviceID) = try collector.enrollAgent("agent")
        let agent = try BackgroundProcess(
            [CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "60s"],
            logPath: directory.appendingPathComponent("agent.log").path)
        defer { agent.signal(SIGKILL) }
        func agentStatus() -> String? {
            let data = FileManager.default.contents(atPath: state + "/verdict.json") ?? Data()
            return ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["status"] as? String
        }
        #expect(BackgroundProcess.eventually(timeout: 20) { agentStatus() == "compliant" }, "\(agent.log)")
        Thread.sleep(forTimeInterval: 1)  // the long-poll is waiting now

        var latencies: [Double] = []
        for (action, expected) in [("quarantine", "noncompliant"), ("release", "compliant")] {
            let start = Date()
            try collector.command(["devices", action, deviceID, "--reason", "test", "--by", "bob"])
            #expect(BackgroundProcess.eventually(timeout: 10) { agentStatus() == expected })
            latencies.append(Date().timeIntervalSince(start))
        }
        // Measured, not asserted (a test never fails on a timing); the functional bound is the 10 s above.
        print("agent learned its verdict after \(latencies.map { String(format: "%.3f s", $0) })")
        #expect(agent.log.contains("posture.source=long-poll"))
        let status = try Shell.run([CollectorHarness.agentBinary, "status", "--state-dir", state]).stdout
        #expect(status.contains("verdict     compliant"))
    }

    @Test func waiversExpireAndReportsAgeOutByThemselves() throws {
        let (collector, _, _) = try collectorWithPolicy(
            "e2e-waivers",
            """
            report: {maxAge: 8s}
            rules:
              - name: impossible-os
                check: osVersion
                minimum: {debian: "99", ubuntu: "99", fedora: "99"}
                labels: {class: legacy}
            """)
        let token = try collector.command(["apitoken", "create", "--name", "p", "--scope", "verdict:read"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let (plainState, plainID) = try collector.enrollAgent("plain")
        let (legacyState, legacyID) = try collector.enrollAgent("legacy", tokenOptions: ["--label", "class=legacy"])
        #expect(verdictStatus(collector, plainID, token: token) == "unknown")  // enrolled, no report yet
        let reported = Date()
        for state in [plainState, legacyState] {
            try Shell.run([CollectorHarness.agentBinary, "run", "--state-dir", state, "--count", "1"])
        }
        #expect(verdictStatus(collector, plainID, token: token) == "compliant")
        #expect(verdictStatus(collector, legacyID, token: token) == "noncompliant")

        // A 3 s waiver excuses the rule, then ends by itself.
        try collector.command([
            "waivers", "create", "--rule", "impossible-os", "--device", legacyID, "--for", "3s", "--reason",
            "upgrade scheduled", "--by", "carol",
        ])
        #expect(
            BackgroundProcess.eventually(timeout: 5) { verdictStatus(collector, legacyID, token: token) == "compliant" }
        )
        #expect(
            BackgroundProcess.eventually(timeout: 8) {
                verdictStatus(collector, legacyID, token: token) == "noncompliant"
            })

        // With no new report, the plain device's posture is unknown once its report is 8 s old.
        #expect(
            BackgroundProcess.eventually(timeout: 15) { verdictStatus(collector, plainID, token: token) == "unknown" })
        // Issue times travel as whole seconds: up to 1 s earlier than the test's clock read before the run.
        #expect(Date().timeIntervalSince(reported) >= 7)
        let audit = try collector.command(["audit"])
        #expect(audit.contains("waiver  by carol"))
        #expect(audit.contains("compliant -> unknown  time"))
        #expect(audit.contains("compliant -> noncompliant  time"))
    }

    @Test func pollReceiversGetSETsUntilTheyAcknowledgeThem() throws {
        let (collector, directory, _) = try collectorWithPolicy("e2e-poll")
        let token = try collector.command(["apitoken", "create", "--name", "idp", "--scope", "ssf:manage"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let other = try collector.command(["apitoken", "create", "--name", "other", "--scope", "ssf:manage"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let created = split(
            try curl(
                collector, "/ssf/streams", token: token,
                extra: [
                    "-X", "POST", "--data",
                    #"{"delivery": {"method": "urn:ietf:rfc:8936"}, "aud": "idp", "posture_signing_alg": "ES256"}"#,
                ]))
        #expect(created.1 == 201)
        let stream = try json(created.0)
        let streamID = try #require(stream["stream_id"] as? String)
        #expect(
            ((stream["delivery"] as? [String: Any])?["endpoint_url"] as? String)?.hasSuffix("/ssf/poll/\(streamID)")
                == true)
        #expect(split(try curl(collector, "/ssf/streams?stream_id=\(streamID)", token: other)).1 == 404)
        let status = try json(split(try curl(collector, "/ssf/status?stream_id=\(streamID)", token: token)).0)
        #expect(status["status"] as? String == "enabled")

        let (state, deviceID) = try collector.enrollAgent("agent")
        try Shell.run([CollectorHarness.agentBinary, "run", "--state-dir", state, "--count", "1"])
        func poll(_ body: String) throws -> [String: Any] {
            let (text, code) = split(
                try curl(collector, "/ssf/poll/\(streamID)", token: token, extra: ["-X", "POST", "--data", body]))
            #expect(code == 200, "\(text)")
            return try json(text)
        }
        // Enrolled (unknown: not compliant in CAEP's terms), then compliant with its first report: one SET.
        let first = try #require(try poll(#"{"returnImmediately": true}"#)["sets"] as? [String: Any])
        #expect(first.count == 1)
        let firstJTI = try #require(first.keys.first)
        #expect(
            (try poll(#"{"returnImmediately": true, "ack": ["\#(firstJTI)"]}"#)["sets"] as? [String: Any])?.isEmpty
                == true)

        try collector.command(["devices", "quarantine", deviceID, "--reason", "incident 42", "--by", "dave"])
        var sets: [String: Any] = [:]
        #expect(
            BackgroundProcess.eventually(timeout: 5) {
                sets = (try? poll(#"{"returnImmediately": true}"#)["sets"] as? [String: Any]) ?? [:]
                return !sets.isEmpty
            })
        let (jti, set) = try #require(sets.first)
        let jwksPath = directory.appendingPathComponent("jwks.json").path
        let jwksHeaders = try Shell.run([
            "curl", "-sS", "--cacert", collector.caPath, "-o", jwksPath, "-D", "-",
            collector.apiURL + "/.well-known/jwks.json",
        ]).stdout.lowercased()
        #expect(jwksHeaders.contains("cache-control: public, max-age=300"), "\(jwksHeaders)")
        let verified = try json(
            try Shell.run(["/usr/bin/python3", "-c", Self.verifyScript, jwksPath, try #require(set as? String)]).stdout)
        #expect((verified["header"] as? [String: Any])?["alg"] as? String == "ES256")
        #expect((verified["claims"] as? [String: Any])?["jti"] as? String == jti)
        // Not acknowledged: offered again. Acknowledged: gone.
        #expect((try poll(#"{"returnImmediately": true}"#)["sets"] as? [String: Any])?.keys.contains(jti) == true)
        let acked = try poll(#"{"returnImmediately": true, "ack": ["\#(jti)"]}"#)
        #expect((acked["sets"] as? [String: Any])?.isEmpty == true)
        #expect(acked["moreAvailable"] as? Bool == false)

        // A waiting poll returns as soon as the next change is queued.
        let waiting = try BackgroundProcess(
            [
                "/usr/bin/curl", "-sS", "--cacert", collector.caPath, "-H", "Authorization: Bearer \(token)", "-H",
                "Content-Type: application/json", "-X", "POST", "--data", "{}",
                collector.apiURL + "/ssf/poll/\(streamID)",
            ], logPath: directory.appendingPathComponent("poll.txt").path)
        Thread.sleep(forTimeInterval: 1)
        #expect(waiting.wait(timeout: 0.1) == nil)
        try collector.command(["devices", "release", deviceID, "--reason", "closed", "--by", "dave"])
        #expect(waiting.wait(timeout: 10) == 0)
        let woke = try json(
            try String(contentsOfFile: directory.appendingPathComponent("poll.txt").path, encoding: .utf8))
        #expect((woke["sets"] as? [String: Any])?.count == 1)

        #expect(
            split(try curl(collector, "/ssf/streams?stream_id=\(streamID)", token: token, extra: ["-X", "DELETE"])).1
                == 204)
        #expect(
            split(try curl(collector, "/ssf/poll/\(streamID)", token: token, extra: ["-X", "POST", "--data", "{}"])).1
                == 404)
    }

    @Test func apiClientCertificatesCarryTheirScopes() throws {
        let collector = try CollectorHarness("e2e-apiclient")
        let (state, deviceID) = try collector.enrollAgent("agent")
        try Shell.run([CollectorHarness.agentBinary, "run", "--state-dir", state, "--count", "1"])
        let directory = collector.directory.path
        func client(_ name: String, scope: String) throws -> (cert: String, key: String) {
            let key = "\(directory)/\(name).key"
            let csr = "\(directory)/\(name).csr"
            try Shell.run([
                "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                key,
                "-subj", "/CN=\(name)", "-out", csr,
            ])
            let pem = try collector.command(["apitoken", "certificate", "--name", name, "--scope", scope, "--csr", csr])
            let cert = "\(directory)/\(name).crt"
            try pem.write(toFile: cert, atomically: true, encoding: .utf8)
            return (cert, key)
        }
        /// The verdict asked for with a client certificate: the HTTP status, and what curl printed (for messages).
        func get(_ cert: String, _ key: String) throws -> (status: Int, output: String) {
            let output = try Shell.runAllowingFailure([
                "curl", "-sS", "-w", "\n%{http_code}", "--cacert", collector.caPath, "--cert", cert, "--key", key,
                collector.apiURL + "/v1/devices/\(deviceID)/verdict",
            ])
            let status = output.stdout.split(separator: "\n").last.flatMap { Int($0) } ?? 0
            return (status, output.stdout + output.stderr)
        }
        let reader = try client("proxy", scope: "verdict:read")
        let read = try get(reader.cert, reader.key)
        #expect(read.status == 200, "\(read.output)")
        let other = try client("receiver", scope: "ssf:manage")
        #expect(try get(other.cert, other.key).status == 403)
        // A device certificate chains to the same CA but carries no API role.
        let device = try get(state + "/device.crt", state + "/device.key")
        #expect(device.status == 401, "\(device.output)")
        // Revoking the record revokes the certificate (within the 5 s token cache).
        let id = try #require(
            try collector.command(["apitoken", "list"]).split(separator: "\n").first { $0.contains("proxy") }?
                .split(separator: " ").first.map(String.init))
        try collector.command(["apitoken", "revoke", id])
        #expect(BackgroundProcess.eventually(timeout: 10) { (try? get(reader.cert, reader.key))?.status == 401 })
    }

    /// Replay protection survives a restart: a verdict captured while the device was quarantined, presented
    /// again after it was released and the agent restarted (by a server holding a certificate from the
    /// collector's CA, as a stolen key or a restored impostor would), is refused and not acted on.
    @Test func anOldVerdictPresentedAfterARestartIsRefused() throws {
        let (collector, directory, _) = try collectorWithPolicy("e2e-replay")
        let (state, deviceID) = try collector.enrollAgent("agent")
        let nologin = directory.appendingPathComponent("nologin").path
        let arguments = [
            CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "60s", "--enforce", "dry-run",
            "--nologin-path", nologin,
        ]
        func decision() -> String {
            let data = FileManager.default.contents(atPath: state + "/enforcement.json") ?? Data()
            return (((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["lastDecision"] as? String)
                ?? ""
        }
        var agent = try BackgroundProcess(arguments, logPath: directory.appendingPathComponent("agent-1.log").path)
        defer { agent.signal(SIGKILL) }
        #expect(BackgroundProcess.eventually(timeout: 20) { agent.log.contains("posture.signed=true") }, "\(agent.log)")
        let token = try collector.command(["apitoken", "create", "--name", "capture", "--scope", "verdict:read"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try collector.command(["devices", "quarantine", deviceID, "--reason", "incident 12", "--by", "erin"])
        #expect(BackgroundProcess.eventually(timeout: 10) { decision().contains("quarantined: incident 12") })
        let captured = directory.appendingPathComponent("captured.json").path
        let (body, code) = split(try curl(collector, "/v1/devices/\(deviceID)/verdict", token: token))
        #expect(code == 200)
        try body.write(toFile: captured, atomically: true, encoding: .utf8)
        try collector.command(["devices", "release", deviceID, "--reason", "found", "--by", "erin"])
        #expect(BackgroundProcess.eventually(timeout: 10) { agent.log.contains("access restored") })
        agent.signal(SIGTERM)
        #expect(agent.wait(timeout: 30) == 0)
        collector.stop()

        // An impostor on the devices port answers every long-poll with the captured quarantine.
        let pki = directory.path
        try Shell.run([
            "sh", "-ec",
            """
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/impostor.key" -subj /CN=impostor -out "$1/impostor.csr" 2>/dev/null
            printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$1/impostor.ext"
            openssl x509 -req -in "$1/impostor.csr" -CA "$2/ca.crt" -CAkey "$2/ca.key" -CAcreateserial -days 1 -extfile "$1/impostor.ext" -out "$1/impostor.crt" 2>/dev/null
            """, "sh", pki, collector.stateDirectory,
        ])
        let impostor = try BackgroundProcess(
            [
                "/usr/bin/python3", "-c",
                """
                import ssl, sys
                from http.server import BaseHTTPRequestHandler, HTTPServer
                body = open(sys.argv[2], "rb").read()
                class Handler(BaseHTTPRequestHandler):
                    protocol_version = "HTTP/1.1"
                    def answer(self, status, data):
                        self.send_response(status); self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
                    def do_GET(self):
                        print("GET", self.path, flush=True)
                        self.answer(200, body) if self.path.startswith("/v1/verdict") else self.answer(503, b"{}")
                    def do_POST(self):
                        self.rfile.read(int(self.headers.get("Content-Length", "0"))); self.answer(503, b"{}")
                    def log_message(self, *args): pass
                server = HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(sys.argv[3], sys.argv[4])
                context.verify_mode = ssl.CERT_OPTIONAL
                context.load_verify_locations(sys.argv[5])
                server.socket = context.wrap_socket(server.socket, server_side=True)
                print("impostor ready", flush=True)
                server.serve_forever()
                """,
                "\(collector.devicesPort)", captured, pki + "/impostor.crt", pki + "/impostor.key", collector.caPath,
            ], logPath: directory.appendingPathComponent("impostor.log").path)
        defer { impostor.signal(SIGKILL) }
        #expect(
            BackgroundProcess.eventually(timeout: 10) { impostor.log.contains("impostor ready") }, "\(impostor.log)")
        agent = try BackgroundProcess(arguments, logPath: directory.appendingPathComponent("agent-2.log").path)
        #expect(
            BackgroundProcess.eventually(timeout: 20) { agent.log.contains("older than the one acted on") },
            "agent:\n\(agent.log)\nimpostor:\n\(impostor.log)")
        Thread.sleep(forTimeInterval: 1)
        #expect(!decision().contains("incident 12"), "the replayed quarantine was acted on: \(decision())")
        #expect(!agent.log.contains("access taken away"))
    }

    /// SIGTERM while policy engines hold long-polls (`?wait=300s`): they are answered at once (304,
    /// unchanged) and the collector exits in moments, not after the longest wait.
    @Test func aCollectorHoldingLongPollsStopsInMoments() throws {
        let (collector, directory, _) = try collectorWithPolicy("e2e-stop")
        let (_, deviceID) = try collector.enrollAgent("agent")
        let token = try collector.command(["apitoken", "create", "--name", "pdp", "--scope", "verdict:read"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let headers = try Shell.run([
            "curl", "-sS", "-D", "-", "-o", "/dev/null", "--cacert", collector.caPath, "-H",
            "Authorization: Bearer \(token)", collector.apiURL + "/v1/devices/\(deviceID)/verdict",
        ]).stdout
        let etag = try #require(
            headers.split(separator: "\r\n").first { $0.lowercased().hasPrefix("etag:") }?.split(separator: " ").last
        )
        let polls = try (0..<5).map { index in
            try BackgroundProcess(
                [
                    "/usr/bin/curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", collector.caPath,
                    "-H", "Authorization: Bearer \(token)", "-H", "If-None-Match: \(etag)",
                    collector.apiURL + "/v1/devices/\(deviceID)/verdict?wait=300s",
                ], logPath: directory.appendingPathComponent("poll-\(index).txt").path)
        }
        Thread.sleep(forTimeInterval: 1.5)
        #expect(polls.allSatisfy { $0.isRunning }, "a long-poll returned before the stop")
        let stopping = Date()
        collector.server?.signal(SIGTERM)
        let status = collector.server?.wait(timeout: 25)
        let seconds = Date().timeIntervalSince(stopping)
        print("collector stopped \(String(format: "%.2f", seconds)) s after SIGTERM with 5 long-polls held")
        #expect(status == 0, "the collector did not stop within 25 s")
        for poll in polls {
            #expect(poll.wait(timeout: 5) != nil)
            #expect(poll.log.hasPrefix("304"), "\(poll.log)")
        }
    }

    @Test func theAgentEnforcesVerifiedVerdictsInDryRun() throws {
        let (collector, directory, _) = try collectorWithPolicy("e2e-enforce")
        let (state, deviceID) = try collector.enrollAgent("agent")
        #expect(FileManager.default.fileExists(atPath: state + "/verdict-keys.json"))
        let nologin = directory.appendingPathComponent("nologin").path
        let agent = try BackgroundProcess(
            [
                CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "60s", "--enforce", "dry-run",
                "--nologin-path", nologin,
            ], logPath: directory.appendingPathComponent("agent.log").path)
        defer { agent.signal(SIGKILL) }
        func decision() -> String {
            let data = FileManager.default.contents(atPath: state + "/enforcement.json") ?? Data()
            return (((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["lastDecision"] as? String)
                ?? ""
        }
        #expect(BackgroundProcess.eventually(timeout: 20) { agent.log.contains("posture.signed=true") }, "\(agent.log)")
        Thread.sleep(forTimeInterval: 1)
        let start = Date()
        try collector.command(["devices", "quarantine", deviceID, "--reason", "incident 7", "--by", "erin"])
        #expect(
            BackgroundProcess.eventually(timeout: 10) {
                decision().contains("access taken away: quarantined: incident 7")
            })
        print(
            "dry-run enforcement decided \(String(format: "%.3f", Date().timeIntervalSince(start))) s after the quarantine"
        )
        #expect(agent.log.contains("dry run: would write \(nologin)"))
        // The agent reported its decisions; they are in the device's history at the collector.
        #expect(
            BackgroundProcess.eventually(timeout: 10) {
                (try? collector.command(["audit", "--device", deviceID]))?.contains("enforcement.block-logins.dry-run")
                    == true
            })
        #expect(!FileManager.default.fileExists(atPath: nologin))
        let status = try Shell.run([CollectorHarness.agentBinary, "status", "--state-dir", state]).stdout
        #expect(status.contains("enforcing   yes"))
        try collector.command(["devices", "release", deviceID, "--reason", "closed", "--by", "erin"])
        #expect(BackgroundProcess.eventually(timeout: 10) { agent.log.contains("access restored") })
        // The agent logs the restoration before it saves its state, so `status` may lag by a moment.
        #expect(
            BackgroundProcess.eventually(timeout: 10) {
                (try? Shell.run([CollectorHarness.agentBinary, "status", "--state-dir", state]))?.stdout.contains(
                    "enforcing   no") == true
            })
    }
}
