import Foundation
import PostureModel
import TestSupport
import Testing

/// Several real collectors on one real PostgreSQL database serve one fleet: a device enrolled on one
/// reports to another, in one sequence; a report accepted on one is a replay on the other; an operator's
/// action on one is in the audit trail that the other verifies.
@Suite(.serialized, .enabled(if: PostgresServer.missing == nil || Requirement.isCI, "needs PostgreSQL 15"))
struct SharedStoreTests {
    /// Two collectors on a new database of the shared cluster, the second given the first's identity;
    /// with `extra` YAML appended to both configurations.
    static func twoCollectors(_ label: String, extra: String = "") async throws -> (
        a: CollectorHarness, b: CollectorHarness, configuration: String
    ) {
        let (endpoint, database) = try await PostgresServer.shared.database(label)
        let configuration = Self.configuration(endpoint, database: database) + extra
        let a = try CollectorHarness("\(label)-a", configuration: configuration)
        return (a, try CollectorHarness("\(label)-b", configuration: configuration, identityFrom: a), configuration)
    }

    static func configuration(_ endpoint: PostgresServer.Endpoint, database: String) -> String {
        """
        storage:
          driver: postgresql
          url: postgresql://\(endpoint.username)@\(endpoint.host):\(endpoint.port)/\(database)?sslmode=disable
          connections: 4
        """
    }

    @Test func twoCollectorsOnOneDatabaseServeOneFleet() async throws {
        let (a, b, configuration) = try await Self.twoCollectors("shared")
        let (state, deviceID) = try a.enrollAgent("agent")

        // A policy engine long-polls B (with a credential created on A: one fleet, one set of credentials)
        // while the device's first report is ingested on A: B's answer comes when A's verdict changes.
        let token = try a.command(["apitoken", "create", "--name", "engine", "--scope", "verdict:read"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        // B learns of the device and its first verdict from A's notifications: wait until it holds still.
        var etag = ""
        #expect(
            BackgroundProcess.eventually(timeout: 20) {
                let seen = (try? Self.verdictETag(b, deviceID, token: token)) ?? ""
                defer { etag = seen }
                return !seen.isEmpty && seen == etag
            }, "B does not know the device enrolled on A")
        let pollOutput = b.directory.appendingPathComponent("longpoll.txt").path
        // As a policy engine does: long-poll again after a 304 (an answer without a change), until a changed
        // verdict comes; each 304 is counted in the output.
        let script = """
            while :; do
                code=$(curl -sS -o "$0.body" -w '%{http_code}' --cacert "$1" -H "Authorization: Bearer $2" \\
                    -H "If-None-Match: $3" "$4")
                [ "$code" = 200 ] && { cat "$0.body"; exit 0; }
                [ "$code" = 304 ] || { echo "answered $code"; exit 1; }
                echo unchanged >&2
            done
            """
        let longPoll = try BackgroundProcess(
            [
                "/bin/sh", "-c", script, pollOutput, b.caPath, token, etag,
                b.apiURL + "/v1/devices/\(deviceID)/verdict?wait=60s",
            ], logPath: pollOutput)
        defer { longPoll.signal(SIGKILL) }
        try await Task.sleep(for: .milliseconds(500))
        #expect(longPoll.wait(timeout: 0.1) == nil, "the long-poll returned a change before anything changed")
        let reportedAt = Date()
        try Shell.run([
            CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "100ms", "--count", "2",
        ])
        #expect(longPoll.wait(timeout: 10) == 0)
        print(
            "long-poll on B answered \(String(format: "%.3f", Date().timeIntervalSince(reportedAt))) s after the agent started reporting to A"
        )
        let answer = try String(contentsOfFile: pollOutput, encoding: .utf8)
        #expect(answer.contains("\"status\"") && !answer.contains(etag), "\(answer)")
        let unchanged = answer.components(separatedBy: "unchanged").count - 1
        if unchanged > 0 {
            print("the long-poll on B was answered 304 (unchanged) \(unchanged) time(s) before the change")
        }

        // The same device now reports to the other collector: its sequence goes on there.
        let enrollmentFile = state + "/enrollment.json"
        let enrollment = try String(contentsOfFile: enrollmentFile, encoding: .utf8)
        try enrollment.replacingOccurrences(of: a.devicesURL, with: b.devicesURL)
            .write(toFile: enrollmentFile, atomically: true, encoding: .utf8)
        try Shell.run([
            CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "100ms", "--count", "2",
        ])
        #expect(try a.attestations(deviceID).map(\.sequence) == [1, 2, 3, 4])
        #expect(try b.attestations(deviceID).map(\.sequence) == [1, 2, 3, 4])

        // Report 4, accepted on B, presented to A by the device itself: already accepted, not stored twice.
        let captured = try #require(try b.attestations(deviceID).last)
        let replay = try DeviceClient(collector: a, state: state).post(captured.body)
        #expect(replay.http == 409 && replay.code == "already_accepted", "\(replay)")
        #expect(try a.attestations(deviceID).count == 4)

        // An operator quarantines on B; A serves the quarantined verdict at once, records the change once,
        // and A's audit trail holds it, one chain, intact.
        let quarantinedAt = Date()
        try b.command(["devices", "quarantine", deviceID, "--reason", "shared-store test"])
        #expect(
            BackgroundProcess.eventually(timeout: 10) {
                (try? Self.verdictBody(a, deviceID, token: token))?.contains("\"noncompliant\"") == true
            })
        print(
            "A served the quarantine made through B \(String(format: "%.3f", Date().timeIntervalSince(quarantinedAt))) s after the command"
        )
        try await Task.sleep(for: .seconds(1))
        let changes = try a.command(["devices", "verdict", deviceID])
        #expect(changes.components(separatedBy: "quarantine by").count - 1 == 1, "\(changes)")
        let audit = try a.command(["audit", "verify"])
        #expect(audit.contains("intact"), "\(audit)")
        // A third collector started on the database with a CA of its own is refused, naming the fix.
        do {
            _ = try CollectorHarness("shared-c", configuration: configuration)
            Issue.record("a collector with another CA started on the fleet's database")
        } catch {
            #expect("\(error)".contains("is not the fleet's") && "\(error)".contains("copy ca.crt"), "\(error)")
        }
        let shown = try a.command(["devices", "show", deviceID])
        #expect(shown.contains("\"attestations\" : 4"))
    }

    /// A fleet on the embedded store moves to PostgreSQL with `posture-collector migrate --from`: the
    /// collector that starts on the database with the same identity goes on taking the same device's reports.
    @Test func aSQLiteFleetMovesToPostgreSQLAndGoesOn() async throws {
        let embedded = try CollectorHarness("move-sqlite")
        let (state, deviceID) = try embedded.enrollAgent("agent")
        try Shell.run([
            CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "100ms", "--count", "2",
        ])
        try embedded.command(["devices", "quarantine", deviceID, "--reason", "before the move"])
        embedded.stop()

        let (endpoint, database) = try await PostgresServer.shared.database("moved")
        let shared = try CollectorHarness(
            "move-postgres", configuration: Self.configuration(endpoint, database: database), identityFrom: embedded)
        shared.stop()
        let output = try shared.command(["migrate", "--from", embedded.stateDirectory + "/collector.sqlite"])
        #expect(output.contains("audit trail intact"), "\(output)")
        try shared.start()
        let enrollmentFile = state + "/enrollment.json"
        let enrollment = try String(contentsOfFile: enrollmentFile, encoding: .utf8)
        try enrollment.replacingOccurrences(of: embedded.devicesURL, with: shared.devicesURL)
            .write(toFile: enrollmentFile, atomically: true, encoding: .utf8)
        try Shell.run([
            CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "100ms", "--count", "1",
        ])
        #expect(try shared.attestations(deviceID).map(\.sequence) == [1, 2, 3])
        #expect(try shared.command(["audit", "verify"]).contains("intact"))
    }

    /// A dashboard session signed in on one collector is served by another, also after the first died.
    @Test func aDashboardSessionOutlivesTheCollectorThatCreatedIt() async throws {
        let (a, b, _) = try await Self.twoCollectors("session")
        let token = try a.command(["apitoken", "create", "--name", "alice", "--scope", "fleet:read"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let headers = try Shell.run([
            "curl", "-sS", "-o", "/dev/null", "-D", "-", "--cacert", a.caPath, "-H",
            "Origin: https://127.0.0.1:\(a.apiPort)", "--data-urlencode", "token=\(token)", a.apiURL + "/ui/sign-in",
        ]).stdout
        let cookie = try #require(
            headers.split(separator: "\r\n").first { $0.lowercased().hasPrefix("set-cookie: __host-posture_session=") }
        )
        .dropFirst("set-cookie: ".count).split(separator: ";").first.map(String.init)
        a.kill9()
        let page = try Shell.run([
            "curl", "-sS", "-w", "\n%{http_code}", "--cacert", b.caPath, "-H", "Cookie: \(try #require(cookie))",
            b.apiURL + "/ui",
        ]).stdout
        #expect(page.hasSuffix("\n200"), "\(page.suffix(300))")
        #expect(page.contains("alice"))
    }

    /// An agent given both collectors' URLs goes on reporting when the one it uses is killed with SIGKILL,
    /// and back when the other dies: every sequence number stored exactly once, in order.
    @Test func anAgentFailsOverBetweenCollectorsAndLosesNoReport() async throws {
        let (a, b, _) = try await Self.twoCollectors("failover")
        let (state, deviceID) = try a.enrollAgent("agent")
        // What an enrollment grant carries when devicesURL lists both collectors.
        let enrollmentFile = URL(fileURLWithPath: state + "/enrollment.json")
        var enrollment = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: enrollmentFile)) as? [String: Any])
        enrollment["devicesURLs"] = [a.devicesURL, b.devicesURL]
        try JSONSerialization.data(withJSONObject: enrollment).write(to: enrollmentFile)

        let agent = try BackgroundProcess(
            [CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "300ms"],
            logPath: a.directory.appendingPathComponent("agent.log").path)
        defer { agent.signal(SIGKILL) }
        func stored() -> [UInt64] { (try? b.attestations(deviceID).map(\.sequence)) ?? [] }
        #expect(BackgroundProcess.eventually(timeout: 20) { stored().count >= 3 })
        a.kill9()
        let before = stored().count
        #expect(BackgroundProcess.eventually(timeout: 30) { stored().count >= before + 3 }, "\(agent.log)")
        try a.start()
        b.kill9()
        let middle = try a.attestations(deviceID).count
        #expect(
            BackgroundProcess.eventually(timeout: 30) { ((try? a.attestations(deviceID).count) ?? 0) >= middle + 3 },
            "\(agent.log)")
        agent.signal(SIGTERM)
        _ = agent.wait(timeout: 10)
        let sequences = try a.attestations(deviceID).map(\.sequence)
        #expect(sequences == Array(1...UInt64(sequences.count)), "\(sequences)")
    }

    /// Two collectors push one Shared Signals stream: every verdict change, made through either, reaches the
    /// receiver exactly once and in order (one collector at a time holds the stream's push lease).
    @Test func everySETReachesTheReceiverOnceWhicheverCollectorsRun() async throws {
        let directory = try Paths.temporaryDirectory("shared-ssf")
        let certificate = directory.appendingPathComponent("receiver.crt").path
        let key = directory.appendingPathComponent("receiver.key").path
        try Shell.run([
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
            "-out", certificate, "-subj", "/CN=receiver", "-days", "1", "-addext", "subjectAltName=IP:127.0.0.1",
        ])
        let (a, b, _) = try await Self.twoCollectors(
            "ssf", extra: "\nssf: {allowedDestinations: [\"127.0.0.1\"], caBundle: \(certificate)}\n")
        let (state, deviceID) = try a.enrollAgent("agent")
        try Shell.run([CollectorHarness.agentBinary, "run", "--state-dir", state, "--count", "1"])

        let port = try freeLoopbackPort()
        let received = directory.appendingPathComponent("received.txt").path
        let receiver = try BackgroundProcess(
            [
                "/usr/bin/python3", "-c", VerdictTests.receiverScript, String(port), received, certificate, key,
                directory.appendingPathComponent("never").path,
            ], logPath: directory.appendingPathComponent("receiver.log").path)
        defer { receiver.signal(SIGKILL) }
        let token = try a.command(["apitoken", "create", "--name", "idp", "--scope", "ssf:manage"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let stream = """
            {"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": "https://127.0.0.1:\(port)/events"},
             "events_requested": ["https://schemas.openid.net/secevent/caep/event-type/device-compliance-change"],
             "aud": "https://proxy.example"}
            """
        let created = try Shell.run([
            "curl", "-sS", "--fail", "--cacert", a.caPath, "-H", "Authorization: Bearer \(token)", "-H",
            "Content-Type: application/json", "--data", stream, a.apiURL + "/ssf/streams",
        ])
        #expect(created.stdout.contains("stream_id"), "\(created.stdout)")
        try await Task.sleep(for: .seconds(6))  // B reads the new stream within 5 s.

        // Six status changes, made alternately through each collector's command line.
        for round in 0..<3 {
            try (round % 2 == 0 ? a : b).command(["devices", "quarantine", deviceID, "--reason", "round \(round)"])
            try await Task.sleep(for: .milliseconds(700))
            try (round % 2 == 0 ? b : a).command(["devices", "release", deviceID, "--reason", "round \(round)"])
            try await Task.sleep(for: .milliseconds(700))
        }
        func lines() -> [String] {
            ((try? String(contentsOfFile: received, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        #expect(BackgroundProcess.eventually(timeout: 20) { lines().count >= 6 }, "\(lines().count) SETs")
        try await Task.sleep(for: .seconds(3))
        let sets = lines()
        #expect(sets.count == 6, "\(sets.count) SETs")
        #expect(Set(sets).count == sets.count)
        // In order: noncompliant, then back, six times over.
        let statuses = sets.map { line -> String in
            let jwt = line.split(separator: " ").last.map(String.init) ?? ""
            let payload = jwt.split(separator: ".").dropFirst().first.map(String.init) ?? ""
            let text = String(decoding: Base64URL.decode(payload) ?? Data(), as: UTF8.self)
            return text.contains("\"current_status\":\"not-compliant\"") ? "not" : "ok"
        }
        #expect(statuses == ["not", "ok", "not", "ok", "not", "ok"], "\(statuses)")
    }

    /// The PostgreSQL server stopped under load and started again: the collector refuses meanwhile,
    /// the agent keeps its reports, and everything is stored once, in order, when the server is back,
    /// without restarting anything.
    @Test func aDatabaseRestartUnderLoadLosesNothingAndMendsItself() async throws {
        let server = PostgresServer()
        let (endpoint, database) = try await server.database("restart")
        let collector = try CollectorHarness(
            "pg-restart", configuration: Self.configuration(endpoint, database: database))
        let (state, deviceID) = try collector.enrollAgent("agent")
        let agent = try BackgroundProcess(
            [CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "1s"],
            logPath: collector.directory.appendingPathComponent("agent.log").path)
        defer { agent.signal(SIGKILL) }
        func stored() -> [UInt64] { (try? collector.attestations(deviceID).map(\.sequence)) ?? [] }
        #expect(BackgroundProcess.eventually(timeout: 20) { stored().count >= 3 })

        let captured = try #require(try collector.attestations(deviceID).last)
        try await server.stop()
        let spool = state + "/spool"
        func spooled() -> Int {
            ((try? FileManager.default.contentsOfDirectory(atPath: spool)) ?? []).filter {
                $0.hasSuffix(".json") && UInt64($0.dropLast(5)) != nil
            }.count
        }
        #expect(BackgroundProcess.eventually(timeout: 20) { spooled() >= 3 }, "\(agent.log)")
        // A new connection is refused at the handshake (deny on doubt: the store cannot say whether the
        // device is still active) within the store's connection wait, with the cause in the collector's
        // log; the agent retries.
        let refused = try DeviceClient(collector: collector, state: state).post(captured.body)
        #expect(refused.http == nil && refused.exit != 0, "\(refused)")
        #expect(
            BackgroundProcess.eventually(timeout: 30) {
                let log = collector.server?.log ?? ""
                return log.contains("handshake refused: the store cannot say whether the device is active")
                    && log.contains("no connection to PostgreSQL")
            })
        let outage = try Shell.runAllowingFailure([
            "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", collector.caPath,
            collector.apiURL + "/readyz",
        ]).stdout
        #expect(outage == "503")

        try await server.start()
        let drained = BackgroundProcess.eventually(timeout: 120) { spooled() == 0 }
        if !drained { print("COLLECTOR LOG\n" + (collector.server?.log.suffix(6000) ?? "")) }
        #expect(drained, "\(agent.log.suffix(2000))")
        agent.signal(SIGTERM)
        _ = agent.wait(timeout: 10)
        let signed = UInt64(
            (try String(contentsOfFile: state + "/sequence", encoding: .utf8)).trimmingCharacters(
                in: .whitespacesAndNewlines))
        let sequences = stored()
        #expect(UInt64(sequences.count + spooled()) == signed)
        #expect(sequences == (0..<sequences.count).map { UInt64($0 + 1) }, "\(sequences)")
        #expect(collector.server?.log.contains("listening api") == true)
    }

    /// PostgreSQL with TLS 1.3 and SCRAM passwords, as in production: the collector verifies the server's
    /// certificate and logs in with a password file; a wrong password, a readable password file, the wrong
    /// CA and no TLS are each refused with their cause.
    @Test func theStoreIsReachedOverTLSWithAPasswordAndWhatIsWrongIsNamed() async throws {
        let server = PostgresServer(secured: true)
        let (endpoint, database) = try await server.database("secured")
        let directory = try Paths.temporaryDirectory("secured")
        let passwordFile = directory.appendingPathComponent("db-password").path
        try (try #require(endpoint.password) + "\n").write(toFile: passwordFile, atomically: true, encoding: .utf8)
        _ = try Shell.run(["chmod", "600", passwordFile])
        func configuration(_ query: String, password: String = passwordFile) -> String {
            """
            storage:
              driver: postgresql
              url: postgresql://\(endpoint.username)@127.0.0.1:\(endpoint.port)/\(database)?\(query)
              passwordFile: \(password)
            """
        }
        let verified = "sslmode=verify-full&sslrootcert=\(try #require(endpoint.caPath))"
        let collector = try CollectorHarness("secured", configuration: configuration(verified))
        let (state, deviceID) = try collector.enrollAgent("agent")
        try Shell.run([CollectorHarness.agentBinary, "run", "--state-dir", state, "--count", "1"])
        #expect(try collector.attestations(deviceID).count == 1)

        func refusal(_ text: String) throws -> String {
            let path = directory.appendingPathComponent("other-\(UUID().uuidString).yaml").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let output = try Shell.runAllowingFailure([
                CollectorHarness.collectorBinary, "devices", "list", "--config", path, "--state-dir",
                collector.stateDirectory,
            ])
            #expect(output.status != 0)
            return output.stderr
        }
        let wrongPassword = directory.appendingPathComponent("wrong-password").path
        try "not-the-password\n".write(toFile: wrongPassword, atomically: true, encoding: .utf8)
        _ = try Shell.run(["chmod", "600", wrongPassword])
        let badLogin = try refusal(configuration(verified, password: wrongPassword))
        #expect(badLogin.contains("password authentication failed"), "\(badLogin)")
        _ = try Shell.run(["chmod", "644", wrongPassword])
        let readable = try refusal(configuration(verified, password: wrongPassword))
        #expect(readable.contains("can be read by others") && readable.contains("chmod 600"), "\(readable)")
        let otherCA = try refusal(configuration("sslmode=verify-full&sslrootcert=\(collector.caPath)"))
        #expect(otherCA.contains("certificate") || otherCA.contains("TLS") || otherCA.contains("SSL"), "\(otherCA)")
        let plain = try refusal(configuration("sslmode=disable"))
        #expect(plain.contains("no encryption") || plain.contains("pg_hba.conf"), "\(plain)")
        let inURL = try refusal(
            """
            storage:
              driver: postgresql
              url: postgresql://posture:secret@127.0.0.1:\(endpoint.port)/\(database)
            """)
        #expect(inURL.contains("holds a password") && !inURL.contains("secret"), "\(inURL)")
    }

    static func verdictBody(_ collector: CollectorHarness, _ deviceID: String, token: String) throws -> String {
        try Shell.run([
            "curl", "-sS", "--fail", "--cacert", collector.caPath, "-H", "Authorization: Bearer \(token)",
            collector.apiURL + "/v1/devices/\(deviceID)/verdict",
        ]).stdout
    }

    /// The verdict's ETag, or "" while the collector does not know the device.
    static func verdictETag(_ collector: CollectorHarness, _ deviceID: String, token: String) throws -> String {
        let headers = try Shell.runAllowingFailure([
            "curl", "-sS", "--fail", "-o", "/dev/null", "-D", "-", "--cacert", collector.caPath, "-H",
            "Authorization: Bearer \(token)", collector.apiURL + "/v1/devices/\(deviceID)/verdict",
        ]).stdout
        let line = headers.split(separator: "\r\n").first { $0.lowercased().hasPrefix("etag:") }
        return line.map { $0.dropFirst(5).trimmingCharacters(in: .whitespaces) } ?? ""
    }
}
