import Crypto
import Foundation
import PostureModel
import TestSupport
import Testing

/// An attacker holding one enrolled device's key, and a client that never finishes a handshake, against
/// the real collector: every class of extreme value is refused with its documented code, the collector
/// stays up (and starts again), and the device's next honest report is accepted.
@Suite(.serialized, Requirement.available(programs: ["curl", "openssl", "python3"]))
struct HostileDeviceTests {
    @Test func extremeValuesDuplicateKeysAndLookAlikeMachineIDsCannotStopTheCollector() throws {
        // The shipped policy: its journal rule and risk weights sum what devices report.
        let policy = Paths.packageRoot.appendingPathComponent("etc/posture/policy.yaml").path
        let collector = try CollectorHarness("e2e-hostile", configuration: "policy: {path: \(policy)}\n")
        let (state, deviceID) = try collector.enrollAgent("agent")
        let (twin, twinID) = try collector.enrollAgent("twin")
        try Shell.run([CollectorHarness.agentBinary, "run", "--state-dir", twin, "--count", "1"])
        let (device, key, _, original) = try DeviceClient.afterOneReport(
            collector: collector, state: state, deviceID: deviceID)
        var sequence: UInt64 = 1
        func payload(_ change: (inout AttestationPayload) -> Void) throws -> AttestationPayload {
            var payload = original
            sequence += 1
            payload.sequence = sequence
            payload.issuedAt = Date()
            payload.nonce = try device.freshNonce()
            change(&payload)
            return payload
        }
        func signed(_ text: String, header: String? = nil) throws -> String {
            let kid = KeyThumbprint(key.publicKey).value
            let head = header ?? #"{"alg":"ES256","kid":"\#(kid)","typ":"posture-attestation+jws"}"#
            let input = Base64URL.encode(Array(head.utf8)) + "." + Base64URL.encode(Array(text.utf8))
            return input + "." + Base64URL.encode(try key.sign(Data(input.utf8)).rawRepresentation)
        }
        func json(_ payload: AttestationPayload) throws -> String {
            String(decoding: try PostureReport.wireEncoder().encode(payload), as: UTF8.self)
        }
        func alive() throws -> Bool {
            try curl(collector.enrollmentURL + "/healthz", ca: collector.caPath).body == "ok\n"
        }

        let journal = JournalFacts(
            journal: "system journal", afterCursor: nil, since: nil, cursor: nil, entriesExamined: 1,
            counts: [.sshAuthFailure: Int.max], notable: [], notableOmitted: 0)
        var extremes: [(String, String, String)] = [
            ("sequence UInt64.max", try json(try payload { $0.sequence = .max }), "sequence is 18446744073709551615"),
            (
                "journal count Int.max",
                try json(try payload { $0.report.journal = .observed(journal, source: "x") }),
                "report.journal.value.counts.sshAuthFailure"
            ),
            (
                "uptime 1e300", try json(try payload { $0.report.os.uptimeSeconds = .observed(1e300, source: "x") }),
                "report.os.uptimeSeconds.value"
            ),
            (
                "a spool gap that cannot be",
                try json(try payload { $0.spoolGap = SpoolGap(firstSequence: 1, lastSequence: 1, count: .max) }),
                "spoolGap.count"
            ),
        ]
        // Numbers no Swift integer holds, and nesting a recursive decoder would follow forever.
        let plain = try json(try payload { _ in })
        extremes.append(
            (
                "a 400-digit number",
                plain.replacingOccurrences(
                    of: "\"sequence\":", with: "\"sequence\":1" + String(repeating: "0", count: 400) + ",\"x\":"),
                "number longer"
            ))
        extremes.append(
            (
                "10,000 nested arrays",
                "{\"deep\":" + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}",
                "nesting deeper"
            ))
        // Two readings of one signed text: the collector would take the first, jq and Python the last.
        let twice = try json(try payload { _ in })
        extremes.append(
            ("a duplicate sequence", "{\"sequence\":1," + twice.dropFirst(), "duplicate member name \\\"sequence\\\""))
        for (what, text, expected) in extremes {
            let answer = try device.post(try signed(text))
            #expect(answer.http == 400 && answer.code == "malformed_payload", "\(what): \(answer)")
            #expect(answer.body.contains(expected), "\(what): \(answer.body)")
            #expect(try alive(), "the collector died on \(what)")
        }
        let critical = try device.post(
            try signed(
                try json(try payload { _ in }),
                header: #"{"alg":"ES256","crit":["b64"],"b64":false,"kid":"\#(KeyThumbprint(key.publicKey).value)"}"#))
        #expect(critical.http == 400 && critical.code == "malformed_jws", "\(critical)")

        // Look-alike machine IDs of an enrolled machine are refused before anything else is read.
        let machineID = try String(contentsOfFile: state + "/../agent-root/etc/machine-id", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        for lookAlike in [machineID.uppercased(), " " + machineID, machineID + "\n", "０" + machineID.dropFirst()] {
            let body = try JSONEncoder().encode(
                EnrollmentRequest(token: try collector.token(), csr: "x", machineID: lookAlike, hostname: "twin"))
            let file = collector.directory.appendingPathComponent("enroll.json").path
            try body.write(to: URL(fileURLWithPath: file))
            let answer = try curl(
                collector.enrollmentURL + "/v1/enroll", ca: collector.caPath,
                extra: ["-X", "POST", "-H", "Content-Type: application/json", "--data-binary", "@" + file])
            #expect(
                answer.http == 400 && answer.code == "malformed_request", "\(lookAlike.debugDescription): \(answer)")
        }

        // Nothing hostile was stored; the collector starts again on what it has and takes the next honest report.
        #expect(try collector.attestations(deviceID).map(\.sequence) == [1])
        collector.kill9()
        // As an older collector could have stored it: journal counts at Int.max in the signals summed at every
        // start, under a latest report whose journal is observed (so the ssh-brute-force rule adds them up;
        // the collector before this fix trapped here, at every start); and the twin's latest report with
        // uptime 1e300. The collector starts, evaluates, and ignores what is out of range. Older collectors
        // stored the payload itself: each device's as `devices show` composes it, changed, is written back.
        func latestPayload(_ id: String) throws -> String {
            let shown = try JSONSerialization.jsonObject(
                with: Data(try collector.command(["devices", "show", id]).utf8))
            return try #require((shown as? [String: Any])?["latestPayload"] as? String)
        }
        let payloads = [try latestPayload(deviceID), try latestPayload(twinID)]
        try Shell.run([
            "/usr/bin/python3", "-c",
            """
            import json, sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            counts = json.dumps({"sshAuthFailure": 2**63 - 1, "sshInvalidUser": 1})
            c.execute("UPDATE attestations SET journal_counts = ?", (counts,))
            for device, change, payload in ((sys.argv[2], "journal", sys.argv[4]), (sys.argv[3], "uptime", sys.argv[5])):
                p = json.loads(payload)
                if change == "journal":
                    p["report"]["journal"] = {"status": "observed", "source": "x", "value": {
                        "journal": "system", "entriesExamined": 0, "counts": {}, "notable": [], "notableOmitted": 0}}
                else:
                    p["report"]["os"]["uptimeSeconds"] = {"status": "observed", "source": "x", "value": 1e300}
                c.execute("UPDATE device_state SET payload = ? WHERE device_id = ?", (json.dumps(p), device))
            c.commit()
            """,
            collector.stateDirectory + "/collector.sqlite", deviceID, twinID, payloads[0], payloads[1],
        ])
        try collector.start()
        #expect(
            BackgroundProcess.eventually(timeout: 10) {
                (collector.server?.log ?? "").contains("stored report out of range")
                    && (collector.server?.log ?? "").contains("verdicts ready")
            }, "\(collector.server?.log ?? "")")
        let honest = try device.post(try signed(try json(try payload { _ in })))
        #expect(honest.http == 200, "\(honest)")
        #expect(try collector.attestations(deviceID).map(\.sequence) == [1, sequence])
        let ready = try curl(
            collector.devicesURL + "/readyz", ca: collector.caPath, certificate: state + "/device.crt",
            key: state + "/device.key")
        #expect(ready.http == 200 && ready.body.contains("\"ready\":true"), "\(ready)")
    }

    @Test func stalledHandshakesAreClosedAndRefusalFloodsAreAggregated() throws {
        let collector = try CollectorHarness(
            "e2e-stalled",
            configuration: """
                limits:
                  handshakeTimeout: 1s
                """)
        // 50 connections that never send a byte: all closed by the collector within the deadline.
        let script = """
            import socket, sys, time
            port = int(sys.argv[1])
            sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(50)]
            start = time.monotonic()
            closed = 0
            for s in sockets:
                s.settimeout(10)
                try:
                    if s.recv(1) == b"": closed += 1
                except OSError:
                    closed += 1
            print(closed, round(time.monotonic() - start, 1))
            """
        let output = try Shell.run(["/usr/bin/python3", "-c", script, "\(collector.devicesPort)"], timeout: 60).stdout
        let fields = output.split(separator: " ")
        #expect(fields.first == "50", "\(output)")
        #expect((Double(fields.last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 99) < 5, "\(output)")
        // The listener still serves a real device afterwards.
        let (state, _) = try collector.enrollAgent("agent")
        try Shell.run([CollectorHarness.agentBinary, "run", "--state-dir", state, "--count", "1"])

        // 40 garbage enrollments from one address: one security event, the rest counted.
        let file = collector.directory.appendingPathComponent("garbage.json").path
        try Data("{\"not\": \"an enrollment\"}".utf8).write(to: URL(fileURLWithPath: file))
        for _ in 0..<40 {
            let answer = try curl(
                collector.enrollmentURL + "/v1/enroll", ca: collector.caPath,
                extra: ["-X", "POST", "-H", "Content-Type: application/json", "--data-binary", "@" + file])
            #expect(answer.http == 400)
        }
        let events = try collector.command(["events", "--limit", "1000"])
        #expect(events.components(separatedBy: "\"code\" : \"malformed_request\"").count - 1 == 1, "\(events)")
        let token = try collector.command(["apitoken", "create", "--name", "prom", "--scope", "metrics:read"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let metrics = try curl(
            collector.apiURL + "/metrics", ca: collector.caPath,
            extra: ["-H", "Authorization: Bearer \(token)"]
        ).body
        #expect(metrics.contains("posture_security_events_total{result=\"suppressed\"} 39"), "\(metrics)")
        #expect(metrics.contains("posture_tls_handshake_timeouts_total{listener=\"devices\"} 50"), "\(metrics)")
    }
}
