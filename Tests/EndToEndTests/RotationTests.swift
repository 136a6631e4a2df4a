import Foundation
import PostureModel
import TestSupport
import Testing

/// What a collector left running for a year must roll without downtime: its own TLS certificate and its
/// token-signing keys, with agents that keep delivering and acting on verdicts and nobody re-enrolled.
@Suite(.serialized, Requirement.available(programs: ["curl", "openssl"]))
struct RotationTests {
    @Test func theServerCertificateIsRenewedInPlaceAndAgentsKeepDelivering() throws {
        let collector = try CollectorHarness(
            "e2e-renewal",
            configuration: """
                tls:
                  serverCertificateLifetime: 3s
                """)
        let (state, deviceID) = try collector.enrollAgent("agent")
        func serial() throws -> String {
            try Shell.run([
                "sh", "-c",
                "openssl s_client -connect 127.0.0.1:\(collector.enrollmentPort) -tls1_3 -CAfile '\(collector.caPath)' </dev/null 2>/dev/null | openssl x509 -noout -serial -enddate",
            ]).stdout
        }
        let first = try serial()
        // Ten reports over about ten seconds: the certificate is renewed about every two seconds.
        let run = try Shell.run(
            [CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "1s", "--count", "10"],
            timeout: 120)
        let later = try serial()
        #expect(first.contains("serial=") && later.contains("serial=") && first != later, "\(first) / \(later)")
        #expect(try collector.attestations(deviceID).map(\.sequence) == Array(1...10), "\(run.stderr)")
        let log = collector.server?.log ?? ""
        #expect(log.components(separatedBy: "server certificate renewed").count - 1 >= 3, "\(log)")
        // A fresh agent handshake after several renewals still verifies against the CA.
        let verify = try curl(
            collector.devicesURL + "/v1/nonce", ca: collector.caPath, certificate: state + "/device.crt",
            key: state + "/device.key")
        #expect(verify.http == 200, "\(verify)")
    }

    @Test func signingKeysRotateWithoutReenrollingAnyone() throws {
        let collector = try CollectorHarness("e2e-keys")
        let (state, deviceID) = try collector.enrollAgent("agent")
        try Shell.run([CollectorHarness.agentBinary, "run", "--state-dir", state, "--count", "1"])
        let token = try collector.command(["apitoken", "create", "--name", "pdp", "--scope", "verdict:read"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        func kids(_ jwks: String) -> [String] {
            let set = try? JSONSerialization.jsonObject(with: Data(jwks.utf8)) as? [String: Any]
            return (set?["keys"] as? [[String: Any]] ?? []).compactMap { $0["kid"] as? String }
        }
        func published() throws -> [String] {
            kids(try curl(collector.apiURL + "/.well-known/jwks.json", ca: collector.caPath).body)
        }
        func verdictKeyID() throws -> String? {
            let answer = try curl(
                collector.apiURL + "/v1/devices/\(deviceID)/verdict", ca: collector.caPath,
                extra: ["-H", "Authorization: Bearer \(token)"])
            let object = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
            guard let jwt = object?["jwt"] as? String, let header = Base64URL.decode(jwt.split(separator: ".")[0])
            else { return nil }
            return (try JSONSerialization.jsonObject(with: header) as? [String: Any])?["kid"] as? String
        }
        let before = try published()
        #expect(before.count == 2)
        let oldKeyID = try #require(try verdictKeyID())
        #expect(before.contains(oldKeyID))

        // Published first (within the collector's 5 s look at the schedule), signing after the lead.
        let schedule = try collector.command(["keys", "rotate", "--lead", "3s", "--overlap", "1h"])
        #expect(schedule.contains("published, signs from"), "\(schedule)")
        #expect(BackgroundProcess.eventually(timeout: 20) { ((try? published()) ?? []).count == 4 })
        #expect(
            BackgroundProcess.eventually(timeout: 20) {
                guard let now = try? verdictKeyID() else { return false }
                return now != oldKeyID
            })
        let newKeyID = try #require(try verdictKeyID())
        // The old key stays published for its overlap: verdicts it signed still verify.
        #expect(Set(try published()).isSuperset(of: [oldKeyID, newKeyID]))
        #expect(try collector.command(["keys", "list"]).contains("published, retiring"))

        // The agent was enrolled with the old keys only: it meets the new one, fetches the collector's keys
        // over its mutual-TLS channel, and acts on the verdict, without re-enrolling.
        let pinned = try String(contentsOfFile: state + "/verdict-keys.json", encoding: .utf8)
        #expect(!pinned.contains(newKeyID))
        let run = try Shell.run([
            CollectorHarness.agentBinary, "run", "--state-dir", state, "--count", "1", "--enforce", "dry-run",
        ])
        #expect(run.stderr.contains("verdict keys updated"), "\(run.stderr)")
        #expect(!run.stderr.contains("verdict refused"), "\(run.stderr)")
        #expect(try String(contentsOfFile: state + "/verdict-keys.json", encoding: .utf8).contains(newKeyID))
    }

    /// The operator's own server certificate: replaced on disk, it is served from the next handshake (the
    /// file watched, or SIGHUP); a half-replaced pair (the new key with the old certificate) is refused and
    /// the pair in use stays.
    @Test func anOperatorsServerCertificateIsReloadedWhenItsFilesChange() throws {
        let pki = try Paths.temporaryDirectory("operator-tls").path
        try Shell.run([
            "sh", "-ec",
            """
            cd '\(pki)'
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt \\
              -subj /CN=ops-ca -days 2 2>/dev/null
            printf 'subjectAltName=IP:127.0.0.1\\n' > ext
            for n in a b; do
              openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $n.key -subj /CN=collector-$n 2>/dev/null |
                openssl x509 -req -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -out $n.crt \\
                  -extfile ext 2>/dev/null
            done
            cp a.crt server.crt; cp a.key server.key
            """,
        ])
        let collector = try CollectorHarness(
            "e2e-operator-tls",
            configuration: """
                tls:
                  certificate: \(pki)/server.crt
                  key: \(pki)/server.key
                """)
        func subject() throws -> String {
            try Shell.run([
                "sh", "-c",
                "openssl s_client -connect 127.0.0.1:\(collector.enrollmentPort) -tls1_3 -CAfile '\(pki)/ca.crt' </dev/null 2>/dev/null | openssl x509 -noout -subject",
            ]).stdout
        }
        #expect(try subject().contains("collector-a"))
        // Replaced on disk: picked up within the 10 s check, no restart.
        try Shell.run(["sh", "-c", "cd '\(pki)' && cp b.key server.key && cp b.crt server.crt"])
        #expect(BackgroundProcess.eventually(timeout: 20) { (try? subject())?.contains("collector-b") == true })
        // Half-replaced (the old certificate with the new key): refused, the working pair stays in use.
        try Shell.run(["sh", "-c", "cd '\(pki)' && cp a.crt server.crt"])
        collector.server?.signal(SIGHUP)
        #expect(
            BackgroundProcess.eventually(timeout: 10) {
                (collector.server?.log ?? "").contains("server certificate not replaced")
            })
        #expect(try subject().contains("collector-b"))
        // The pair made whole again, and SIGHUP: served at once.
        try Shell.run(["sh", "-c", "cd '\(pki)' && cp a.key server.key"])
        collector.server?.signal(SIGHUP)
        #expect(BackgroundProcess.eventually(timeout: 10) { (try? subject())?.contains("collector-a") == true })
    }
}
