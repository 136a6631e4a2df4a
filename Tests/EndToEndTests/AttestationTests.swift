import Crypto
import Foundation
import PostureModel
import TestSupport
import Testing

/// The real collector and agent on loopback: enrollment, attestations, refusals, crash safety. Independent
/// clients (curl, openssl s_client, Python's `cryptography`) check what our own code could get wrong twice.
@Suite(.serialized, Requirement.available(programs: ["curl", "openssl", "python3"]))
struct AttestationTests {
    @Test func enrolledAgentAttestsAndTheCollectorStoresIt() throws {
        let collector = try CollectorHarness("e2e-attest")
        let (state, deviceID) = try collector.enrollAgent("agent")
        try Shell.run([
            CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "200ms", "--count", "3",
        ])

        let rows = try collector.attestations(deviceID)
        #expect(rows.map(\.sequence) == [1, 2, 3])
        #expect(rows.allSatisfy { $0.delivery == "fresh" })
        // The uptime moved on between the reports; it travels in the envelope, so all three name one part.
        #expect(Set(rows.compactMap(\.reportPart)).count == 1, "\(rows.map(\.reportPart))")
        let shown = try collector.command(["devices", "show", deviceID])
        #expect(shown.contains("\"status\" : \"active\""))
        #expect(shown.contains("\"attestations\" : 3"))
        // The newest report, composed from the stored envelope and the parts it names: this host's facts.
        let kernel = try Shell.run(["uname", "-r"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(shown.contains("kernelRelease"))
        #expect(shown.contains(kernel))
        // Patch level travels in the report; the agent remembers since when each pending security update
        // has been offered, exactly those its newest report lists.
        func find(_ key: String, in value: Any) -> Any? {
            if let object = value as? [String: Any] {
                if let found = object[key] { return found }
                return object.values.lazy.compactMap { find(key, in: $0) }.first
            }
            return (value as? [Any])?.lazy.compactMap { find(key, in: $0) }.first
        }
        let view = try JSONSerialization.jsonObject(with: Data(shown.utf8))
        let payload = try #require(find("latestPayload", in: view) as? String)
        let patches = try #require(find("patches", in: try JSONSerialization.jsonObject(with: Data(payload.utf8))))
        let packages = try #require((patches as? [String: Any])?["packages"] as? [String: Any])
        // Every machine this runs on has dpkg and apt lists (.ci/run installs with apt-get).
        #expect(packages["status"] as? String == "observed", "\(packages)")
        if packages["status"] as? String == "observed" {
            let security = try #require((packages["value"] as? [String: Any])?["security"] as? [[String: Any]])
            let keys = security.map { "\($0["package"]!):\($0["architecture"]!)=\($0["installed"]!)" }
            let remembered = (try? Data(contentsOf: URL(fileURLWithPath: state + "/pending-updates.json")))
                .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: String] }
            #expect(Set(remembered?.keys.map { $0 } ?? []) == Set(keys), "\(keys.count) pending security updates")
        }
        // The device key: 0600, owned by the user the agent ran as.
        let attributes = try FileManager.default.attributesOfItem(atPath: state + "/device.key")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect((attributes[.ownerAccountID] as? Int).map(UInt32.init) == getuid())
        let caKey = try FileManager.default.attributesOfItem(atPath: collector.stateDirectory + "/ca.key")
        #expect((caKey[.posixPermissions] as? Int) == 0o600)
        // The certificate names the device as a SPIFFE ID.
        let text = try Shell.run(["openssl", "x509", "-in", state + "/device.crt", "-noout", "-ext", "subjectAltName"])
            .stdout
        #expect(text.contains("URI:spiffe://posture.local/device/\(deviceID)"))
    }

    @Test func theCAPinIsCheckedAgainstOpenSSL() throws {
        let collector = try CollectorHarness("e2e-pin")
        let openssl = try Shell.run([
            "sh", "-c",
            "openssl x509 -pubkey -noout -in '\(collector.caPath)' | openssl pkey -pubin -outform der | sha256sum",
        ]).stdout.prefix(64)
        #expect(try collector.fingerprint() == "sha256:" + openssl)
        let (state, root) = try collector.makeAgentDirectories("wrong-pin")
        let wrong = "sha256:" + String(repeating: "0", count: 64)
        let output = try Shell.runAllowingFailure([
            CollectorHarness.agentBinary, "enroll", "--collector", collector.enrollmentURL, "--token",
            try collector.token(),
            "--ca-fingerprint", wrong, "--state-dir", state, "--root", root,
        ])
        #expect(output.status != 0)
        #expect(output.stderr.contains("not the pinned"))
        #expect(!FileManager.default.fileExists(atPath: state + "/device.crt"))
    }

    @Test func handshakesWithoutAValidCurrentDeviceCertificateAreRefused() throws {
        let collector = try CollectorHarness("e2e-tls")
        let (state, deviceID) = try collector.enrollAgent("agent")
        let nonceURL = collector.devicesURL + "/v1/nonce"

        // The device's own certificate works (the control).
        let good = try curl(
            nonceURL, ca: collector.caPath, certificate: state + "/device.crt", key: state + "/device.key")
        #expect(good.http == 200, "\(good)")

        // No client certificate: openssl s_client and curl are both refused by the handshake.
        let sClient = try Shell.runAllowingFailure(
            [
                "openssl", "s_client", "-ign_eof", "-connect", "127.0.0.1:\(collector.devicesPort)", "-tls1_3",
                "-CAfile", collector.caPath,
            ],
            stdin: Data("GET /v1/nonce HTTP/1.1\r\nHost: x\r\n\r\n".utf8), timeout: 20)
        #expect(sClient.stdout.contains("certificate required") || sClient.stderr.contains("certificate required"))
        #expect(!sClient.stdout.contains("nextNonce") && !sClient.stdout.contains("\"value\""))
        let bare = try curl(nonceURL, ca: collector.caPath)
        #expect(bare.http == nil && bare.exit != 0)
        // curl sends its first request with its Finished message (TLS 1.3); the collector closes on it
        // unread, and under load the reset can reach curl before the alert does (exit 55 or 56). The
        // alert itself is what s_client read above.
        #expect(bare.stderr.contains("alert") || [55, 56].contains(bare.exit), "\(bare)")

        // A certificate for the same SPIFFE ID from another CA.
        let other = collector.directory.appendingPathComponent("other").path
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        try Shell.run([
            "sh", "-ec",
            """
            cd '\(other)'
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -subj /CN=rogue -days 1 2>/dev/null
            openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout dev.key -out dev.csr -subj /CN=dev 2>/dev/null
            printf 'subjectAltName=URI:spiffe://posture.local/device/\(deviceID)\\nextendedKeyUsage=clientAuth\\n' > ext
            openssl x509 -req -in dev.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out dev.crt -days 1 -extfile ext 2>/dev/null
            """,
        ])
        let rogue = try curl(nonceURL, ca: collector.caPath, certificate: other + "/dev.crt", key: other + "/dev.key")
        #expect(rogue.http == nil && rogue.exit != 0, "\(rogue)")

        // Revoked: refused by the very next handshake, with the device's genuine certificate.
        try collector.command(["devices", "revoke", deviceID, "--reason", "test: key compromised"])
        let revoked = try curl(
            nonceURL, ca: collector.caPath, certificate: state + "/device.crt", key: state + "/device.key")
        #expect(revoked.http == nil && revoked.exit != 0, "\(revoked)")
        // TLS 1.3 sends the alert after the client's Finished: curl reports it, or (when the server closed
        // first) a failed send or receive, 55/56; never an HTTP answer.
        #expect(revoked.stderr.contains("alert") || [55, 56].contains(revoked.exit), "\(revoked)")
    }

    @Test func forgedReplayedStaleAndMalformedAttestationsAreRefusedAndNotStored() throws {
        let collector = try CollectorHarness("e2e-refusals")
        let (state, deviceID) = try collector.enrollAgent("agent")
        let (_, otherDeviceID) = try collector.enrollAgent("other")
        let (device, key, captured, original) = try DeviceClient.afterOneReport(
            collector: collector, state: state, deviceID: deviceID)

        func payload(_ change: (inout AttestationPayload) -> Void) throws -> AttestationPayload {
            var payload = original
            payload.sequence = 2
            payload.issuedAt = Date()
            payload.nonce = try device.freshNonce()
            change(&payload)
            return payload
        }
        func signed(_ payload: AttestationPayload, with signer: some ES256Signer = key) throws -> String {
            try CompactJWS.sign(payload: PostureReport.wireEncoder().encode(payload), with: signer).compact
        }

        let replay = try device.post(captured.body)
        #expect(replay.http == 409 && replay.code == "already_accepted", "\(replay)")

        let otherKey = SoftwareSigningKey(P256.Signing.PrivateKey())
        let wrongKey = try device.post(try signed(try payload { _ in }, with: otherKey))
        #expect(wrongKey.http == 401 && wrongKey.code == "key_mismatch", "\(wrongKey)")

        let forged = try device.post(
            try signed(try payload { _ in }, with: ForgedSigner(claimed: key, actual: otherKey)))
        #expect(forged.http == 401 && forged.code == "bad_signature", "\(forged)")

        let foreign = try device.post(try signed(try payload { $0.deviceID = otherDeviceID }))
        #expect(foreign.http == 403 && foreign.code == "device_mismatch", "\(foreign)")

        let stale = try device.post(try signed(try payload { $0.issuedAt = Date().addingTimeInterval(-3600) }))
        #expect(stale.http == 400 && stale.code == "stale_issue_time", "\(stale)")

        let future = try device.post(try signed(try payload { $0.issuedAt = Date().addingTimeInterval(3600) }))
        #expect(future.http == 400 && future.code == "future_issue_time", "\(future)")

        let unknownNonce = try device.post(try signed(try payload { $0.nonce = "bm90LWlzc3VlZA" }))
        #expect(unknownNonce.http == 400 && unknownNonce.code == "nonce_unknown", "\(unknownNonce)")

        var newer = try payload { _ in }
        newer.schemaVersion = 99
        let schema = try device.post(try signed(newer))
        #expect(schema.http == 400 && schema.code == "unsupported_schema", "\(schema)")

        let notJSON = try device.post(
            try CompactJWS.sign(payload: Data("{\"deviceID\": oops".utf8), with: key).compact)
        #expect(notJSON.http == 400 && notJSON.code == "malformed_payload", "\(notJSON)")

        let notJWS = try device.post("this is not a JWS")
        #expect(notJWS.http == 400 && notJWS.code == "malformed_jws", "\(notJWS)")

        let oversized = try device.post(String(repeating: "A", count: 2 << 20))
        #expect(oversized.http == 413 && oversized.code == "payload_too_large", "\(oversized)")

        // Each refusal is a recorded security event naming the device.
        let events = try collector.command(["events", "--limit", "1000"])
        for code in [
            "already_accepted", "key_mismatch", "bad_signature", "device_mismatch", "stale_issue_time",
            "future_issue_time",
            "nonce_unknown", "unsupported_schema", "malformed_payload", "malformed_jws", "payload_too_large",
        ] {
            #expect(events.contains("\"code\" : \"\(code)\""), "no security event \(code)")
        }
        #expect(events.contains(deviceID))
        // Nothing of the above was stored; a correct report right after is.
        #expect(try collector.attestations(deviceID).map(\.sequence) == [1])
        let valid = try device.post(try signed(try payload { _ in }))
        #expect(valid.http == 200, "\(valid)")
        #expect(try collector.attestations(deviceID).map(\.sequence) == [1, 2])
    }

    @Test func storedAttestationsVerifyWithAnIndependentJOSEImplementation() throws {
        let collector = try CollectorHarness("e2e-python")
        let (state, deviceID) = try collector.enrollAgent("agent")
        try Shell.run([
            CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "100ms", "--count", "2",
        ])
        let rows = try collector.attestations(deviceID)
        #expect(rows.count == 2)
        let script = """
            import base64, hashlib, json, sys
            from cryptography import x509
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import ec, utils
            def b64(part): return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
            cert = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
            key = cert.public_key()
            spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            kid = base64.urlsafe_b64encode(hashlib.sha256(spki).digest()).rstrip(b"=").decode()
            def digest(part): return base64.urlsafe_b64encode(hashlib.sha256(part.encode()).digest()).rstrip(b"=").decode()
            arguments = sys.argv[2:]
            for jws, report, journal in zip(arguments[0::3], arguments[1::3], arguments[2::3]):
                h, p, s = jws.split(".")
                header = json.loads(b64(h))
                assert header["alg"] == "ES256" and header["kid"] == kid, header
                raw = b64(s)
                signature = utils.encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
                key.verify(signature, (h + "." + p).encode(), ec.ECDSA(hashes.SHA256()))
                envelope = json.loads(b64(p))
                # Schema 2: the signed envelope names each part by the SHA-256 of its bytes.
                assert envelope["v"] == 2 and envelope["report"] == digest(report) and envelope["journal"] == digest(journal)
                print(envelope["seq"])
            """
        func arguments(_ row: StoredAttestationRow) -> [String] {
            [row.jws, row.reportPart ?? "", row.journalPart ?? ""]
        }
        let output = try Shell.run(["python3", "-c", script, state + "/device.crt"] + rows.flatMap(arguments)).stdout
        #expect(output.split(separator: "\n") == ["1", "2"])
        // A single flipped bit in the stored envelope, or a changed fact, makes the independent verifier refuse it.
        var tampered = rows[0]
        var envelope = Array(tampered.jws)
        let index = envelope.firstIndex(of: ".").map { $0 + 5 } ?? 5
        envelope[index] = envelope[index] == "A" ? "B" : "A"
        tampered.jws = String(envelope)
        let refused = try Shell.runAllowingFailure(
            ["python3", "-c", script, state + "/device.crt"] + arguments(tampered))
        #expect(refused.status != 0)
        var changedFact = rows[0]
        changedFact.reportPart = changedFact.reportPart?.replacingOccurrences(of: "\"x86_64\"", with: "\"arm64\"")
        #expect(changedFact.reportPart != rows[0].reportPart)
        let refusedFact = try Shell.runAllowingFailure(
            ["python3", "-c", script, state + "/device.crt"] + arguments(changedFact))
        #expect(refusedFact.status != 0)
    }

    /// HTTP/2 by ALPN: the agent's attestations and its verdict long-poll share one connection.
    @Test func aRunningAgentHoldsOneConnectionForAttestationsAndItsVerdictFeed() throws {
        let collector = try CollectorHarness("e2e-h2")
        let (state, deviceID) = try collector.enrollAgent("agent")
        let agent = try BackgroundProcess(
            [CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "250ms"],
            logPath: collector.directory.appendingPathComponent("agent.log").path)
        defer {
            agent.signal(SIGTERM)
            _ = agent.wait()
        }
        #expect(BackgroundProcess.eventually { (try? collector.attestations(deviceID).count ?? 0) ?? 0 >= 4 })
        // The long-poll is held while attestations keep arriving: the agent's established connections to
        // the devices listener, as the kernel lists them.
        func connections() throws -> [String] {
            try Shell.run(["ss", "-tnpH", "state", "established", "dst", "127.0.0.1:\(collector.devicesPort)"]).stdout
                .split(separator: "\n").filter { $0.contains("pid=\(agent.pid),") }
                .map(String.init)
        }
        let before = try collector.attestations(deviceID).count
        #expect(BackgroundProcess.eventually { (try? collector.attestations(deviceID).count ?? 0) ?? 0 >= before + 4 })
        let held = try connections()
        #expect(held.count == 1, "\(held)")
        // And it is HTTP/2, negotiated by ALPN, for any client that offers it (curl as a second witness).
        let curl = try Shell.run([
            "curl", "-sS", "--http2", "-o", "/dev/null", "-w", "%{http_version}", "--cacert", collector.caPath,
            "--cert", state + "/device.crt", "--key", state + "/device.key", collector.devicesURL + "/v1/nonce",
        ])
        #expect(curl.stdout == "2")
    }

    @Test func aCollectorKilledMidStreamLosesAndDuplicatesNothing() throws {
        let collector = try CollectorHarness("e2e-crash")
        let (state, deviceID) = try collector.enrollAgent("agent")
        let agent = try BackgroundProcess(
            [CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "250ms"],
            logPath: collector.directory.appendingPathComponent("agent.log").path)
        #expect(BackgroundProcess.eventually { (try? collector.attestations(deviceID).count ?? 0) ?? 0 >= 4 })
        collector.kill9()
        func spoolCount() -> Int {
            ((try? FileManager.default.contentsOfDirectory(atPath: state + "/spool")) ?? [])
                .filter { $0.hasSuffix(".json") && $0 != "gap.json" }.count
        }
        // Waited for rather than slept on: on a loaded machine a report can take longer than its interval.
        #expect(
            BackgroundProcess.eventually(timeout: 30) { spoolCount() >= 3 },
            "the agent kept reporting into its spool while the collector was down (\(spoolCount()) spooled)")
        let spooledDuringOutage = spoolCount()
        try collector.start()
        let before = try collector.attestations(deviceID).count
        #expect(
            BackgroundProcess.eventually {
                (try? collector.attestations(deviceID).count ?? 0) ?? 0 >= before + spooledDuringOutage + 3
            })
        collector.kill9()
        Thread.sleep(forTimeInterval: 0.6)
        try collector.start()
        Thread.sleep(forTimeInterval: 1.5)
        agent.signal(SIGTERM)
        #expect(agent.wait(timeout: 30) == 0, "\(agent.log)")

        let sequences = try collector.attestations(deviceID).map(\.sequence)
        let last =
            UInt64(
                try String(contentsOfFile: state + "/sequence", encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        let spooled = try FileManager.default.contentsOfDirectory(atPath: state + "/spool")
            .compactMap { $0.hasSuffix(".json") ? UInt64($0.dropLast(5)) : nil }.sorted()
        // Exactly once, in order: the stored sequences are 1…k in arrival order, the rest still spooled.
        #expect(sequences == Array(1...UInt64(sequences.count)), "\(sequences)")
        #expect(
            spooled == Array(UInt64(sequences.count + 1)..<(last + 1)),
            "spool \(spooled), stored \(sequences.count), last \(last)")
        #expect(sequences.count >= before + spooledDuringOutage)
    }

    @Test func anOperatorsCAIsUsedAndDeviceCertificatesAreRenewedPastHalfTheirLife() throws {
        let pki = try Paths.temporaryDirectory("operator-pki").path
        try Shell.run([
            "sh", "-ec",
            """
            cd '\(pki)'
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt \\
              -subj '/O=Example Corp/CN=Example Device CA' -days 2 \\
              -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
            """,
        ])
        let collector = try CollectorHarness(
            "e2e-pki",
            configuration: """
                ca:
                  certificate: \(pki)/ca.crt
                  key: \(pki)/ca.key
                certificates:
                  deviceLifetime: 6s
                """)
        #expect(!FileManager.default.fileExists(atPath: collector.stateDirectory + "/ca.key"))
        let (state, deviceID) = try collector.enrollAgent("agent", caFile: pki + "/ca.crt")
        let issued = try String(contentsOfFile: state + "/device.crt", encoding: .utf8)
        let run = try Shell.run([
            CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "1s", "--count", "6",
        ])
        let renewed = try String(contentsOfFile: state + "/device.crt", encoding: .utf8)
        #expect(renewed != issued, "\(run.stderr)")
        #expect(run.stderr.contains("certificate renewed"))
        #expect(try collector.attestations(deviceID).map(\.sequence) == [1, 2, 3, 4, 5, 6])
        let issuer = try Shell.run(["openssl", "x509", "-in", state + "/device.crt", "-noout", "-issuer"]).stdout
        #expect(issuer.contains("Example Device CA"))
        let verified = try Shell.run(["openssl", "verify", "-CAfile", pki + "/ca.crt", state + "/device.crt"]).stdout
        #expect(verified.contains(": OK"))
    }

    @Test func twoAgentsRacingWithOneOneTimeTokenEnrollExactlyOne() throws {
        let collector = try CollectorHarness("e2e-race")
        let token = try collector.token()
        let fingerprint = try collector.fingerprint()
        let agents = try ["a", "b"].map { name in
            let (state, root) = try collector.makeAgentDirectories(name)
            return try BackgroundProcess(
                [
                    CollectorHarness.agentBinary, "enroll", "--collector", collector.enrollmentURL, "--token", token,
                    "--ca-fingerprint", fingerprint, "--state-dir", state, "--root", root,
                ], logPath: collector.directory.appendingPathComponent("enroll-\(name).log").path)
        }
        let statuses = agents.map { $0.wait(timeout: 60) }
        #expect(statuses.filter { $0 == 0 }.count == 1, "\(agents.map(\.log))")
        #expect(agents.filter { $0.log.contains("token_used") }.count == 1, "\(agents.map(\.log))")
        let devices = try collector.command(["devices", "list", "--format", "json"])
        #expect(devices.components(separatedBy: "\"machineID\"").count - 1 == 1)
    }
}

/// Signs with one key while claiming another's `kid`: a forgery the signature check must catch.
struct ForgedSigner: ES256Signer {
    var claimed: SoftwareSigningKey
    var actual: SoftwareSigningKey
    var publicKey: P256.Signing.PublicKey { claimed.publicKey }
    func sign(_ data: Data) throws -> P256.Signing.ECDSASignature { try actual.sign(data) }
}

/// curl as the device (its certificate and key), for requests our agent would never send.
struct DeviceClient {
    var collector: CollectorHarness
    var state: String

    init(collector: CollectorHarness, state: String) throws {
        self.collector = collector
        self.state = state
    }

    /// The agent's first report sent and stored; the device as an attacker holding its key would have it.
    static func afterOneReport(collector: CollectorHarness, state: String, deviceID: String) throws -> (
        client: DeviceClient, key: SoftwareSigningKey, captured: StoredAttestationRow, original: AttestationPayload
    ) {
        try Shell.run([CollectorHarness.agentBinary, "run", "--state-dir", state, "--count", "1"])
        let captured = try #require(try collector.attestations(deviceID).first)
        let key = SoftwareSigningKey(
            try P256.Signing.PrivateKey(
                pemRepresentation: String(contentsOfFile: state + "/device.key", encoding: .utf8)))
        // The agent sends schema 2: the envelope verified, the parts checked against it, the report put together.
        let detached = try #require(try DetachedAttestation(body: Substring(captured.body)))
        let (envelope, _) = try detached.verifiedEnvelope(with: key.publicKey)
        let original = AttestationPayload(
            deviceID: envelope.sub, sequence: envelope.seq, issuedAt: Date(timeIntervalSince1970: Double(envelope.iat)),
            nonce: envelope.nonce, spoolGap: envelope.gap, report: try detached.report(for: envelope))
        return (try DeviceClient(collector: collector, state: state), key, captured, original)
    }

    func freshNonce() throws -> String {
        let answer = try curl(
            collector.devicesURL + "/v1/nonce", ca: collector.caPath, certificate: state + "/device.crt",
            key: state + "/device.key")
        let nonce = try PostureReport.wireDecoder().decode(IssuedNonce.self, from: Data(answer.body.utf8))
        return nonce.value
    }

    func post(_ body: String) throws -> CurlResult {
        let file = collector.directory.appendingPathComponent("body-\(UUID().uuidString)").path
        try Data(body.utf8).write(to: URL(fileURLWithPath: file))
        return try curl(
            collector.devicesURL + "/v1/attestations", ca: collector.caPath, certificate: state + "/device.crt",
            key: state + "/device.key",
            extra: ["-X", "POST", "-H", "Content-Type: application/jose", "--data-binary", "@" + file])
    }
}

struct CurlResult: CustomStringConvertible {
    var exit: Int32
    var http: Int?
    var body: String
    var stderr: String
    var code: String? {
        (try? JSONDecoder().decode(ErrorBody.self, from: Data(body.utf8)))?.error.rawValue
    }
    var description: String {
        "curl exit \(exit), HTTP \(http.map(String.init) ?? "-"): \(body.prefix(300)) \(stderr.prefix(300))"
    }
}

func curl(_ url: String, ca: String, certificate: String? = nil, key: String? = nil, extra: [String] = []) throws
    -> CurlResult
{
    var arguments = ["curl", "-sS", "--tlsv1.3", "--cacert", ca, "-w", "\n%{http_code}"]
    if let certificate, let key { arguments += ["--cert", certificate, "--key", key] }
    let output = try Shell.runAllowingFailure(arguments + extra + [url], timeout: 30)
    var lines = output.stdout.components(separatedBy: "\n")
    let status = lines.popLast().flatMap { Int($0) }
    return CurlResult(
        exit: output.status, http: status == 0 ? nil : status, body: lines.joined(separator: "\n"),
        stderr: output.stderr)
}
