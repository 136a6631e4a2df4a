import BenchSupport
import Crypto
import Foundation
import Glibc
import PostureAgent
import PostureClient
import PostureModel

/// `--storm N`: what a fleet does to a collector that restarts. N devices enroll; the collector is
/// killed and started again under a descriptor limit (`--nofile`, the packaged unit's LimitNOFILE by
/// default); then every device reconnects at once and delivers one signed attestation, retrying with
/// backoff and jitter on a refused connection or a 429. Prints how many delivered, how many tries it took,
/// and whether the collector stayed up; exits 1 unless every device delivered and the collector lived.
enum ReconnectStorm {
    struct Device: @unchecked Sendable {
        var id: String
        var key: SoftwareSigningKey
        var certificatePEM: String
    }

    actor Tally {
        var delivered = 0
        var attempts = 0
        var failures: [String: Int] = [:]
        func attempt() { attempts += 1 }
        func deliver() { delivered += 1 }
        func fail(_ why: String) { failures[String(why.prefix(80)), default: 0] += 1 }
    }

    static func run(devices count: Int, nofile wanted: Int, collectorBinary: String) async -> Int32 {
        // This process holds one connection per device too; neither can go above the hard limit.
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let nofile = min(wanted, Int(clamping: limit.rlim_max))
        if nofile < wanted {
            print("the hard descriptor limit here is \(nofile): the collector gets that, not \(wanted)")
        }

        let work = String(cString: mkdtemp(strdup("/tmp/posture-storm-XXXXXX")))
        let state = work + "/collector"
        func start(_ log: String) -> (Process, String, String) {
            let server = startServer(
                [
                    "/usr/bin/prlimit", "--nofile=\(nofile):\(nofile)", "--", collectorBinary, "serve",
                    "--state-dir", state, "--listen-enrollment", "127.0.0.1:0", "--listen-devices", "127.0.0.1:0",
                    "--listen-api", "127.0.0.1:0", "--log-level", "warning",
                ], log: log)
            let enroll = String(waitFor("listening enrollment", in: log).split(separator: " ")[2])
            let devices = String(waitFor("listening devices", in: log).split(separator: " ")[2])
            return (server, enroll, devices)
        }
        var (server, enrollURL, _) = start(work + "/collector-1.log")
        let enrollAt = enrollURL
        let token = BenchSupport.run([collectorBinary, "token", "create", "--reusable", "--state-dir", state])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let caPEM = (try? String(contentsOfFile: state + "/ca.crt", encoding: .utf8)) ?? ""
        print("posture-collector-bench --storm: \(count) devices, collector under LimitNOFILE=\(nofile)")

        // Enrolled 20 at a time (enrollment is not what is measured).
        let enrolled = await inBatches(count, width: 20) { index in
            await enroll(index, token: token, url: enrollAt, caPEM: caPEM)
        }
        print("enrolled \(enrolled.count) devices")

        // The collector dies and comes back; the whole fleet reconnects at once.
        kill(server.processIdentifier, SIGKILL)
        server.waitUntilExit()
        let devicesURL: String
        (server, _, devicesURL) = start(work + "/collector-2.log")
        let tally = Tally()
        let begin = Date()
        await withTaskGroup(of: Void.self) { group in
            for device in enrolled {
                group.addTask { await deliver(device, url: devicesURL, caPEM: caPEM, tally: tally) }
            }
        }
        let elapsed = Date().timeIntervalSince(begin)
        let alive = server.isRunning && kill(server.processIdentifier, 0) == 0
        let delivered = await tally.delivered
        print(
            "storm: \(delivered)/\(enrolled.count) delivered in \(String(format: "%.1f", elapsed)) s, \(await tally.attempts) attempts; collector \(alive ? "up" : "DOWN")"
        )
        for (why, times) in await tally.failures.sorted(by: { $0.value > $1.value }).prefix(5) {
            print("  retried \(times)×: \(why)")
        }
        print("logs: \(work)")
        kill(server.processIdentifier, SIGTERM)
        server.waitUntilExit()
        return delivered == enrolled.count && enrolled.count == count && alive ? 0 : 1
    }

    static func enroll(_ index: Int, token: String, url: String, caPEM: String) async -> Device? {
        let key = SoftwareSigningKey(P256.Signing.PrivateKey())
        let machineID = (0..<32).map { _ in String(Int.random(in: 0..<16), radix: 16) }.joined()
        guard let csr = try? DeviceKeyFile.csr(for: key, hostname: "storm-\(index)") else { return nil }
        let request = EnrollmentRequest(token: token, csr: csr, machineID: machineID, hostname: "storm-\(index)")
        let answer = try? await CollectorClient.using(baseURL: url, caPEM: caPEM) { client in
            await client.postJSON("/v1/enroll", request, answer: CertificateGrant.self)
        }
        guard case .accepted(let grant) = answer else {
            print("enrollment \(index) failed: \(String(describing: answer))")
            return nil
        }
        return Device(id: grant.deviceID, key: key, certificatePEM: grant.certificate)
    }

    /// One fresh connection, a nonce, one attestation; retried with full jitter until it is accepted.
    static func deliver(_ device: Device, url: String, caPEM: String, tally: Tally) async {
        guard
            let client = try? CollectorClient(
                baseURL: url, caPEM: caPEM, identity: (device.certificatePEM, device.key.privateKey.pemRepresentation))
        else { return await tally.fail("no client") }
        defer { Task { await client.shutdown() } }
        var ceiling = 1.0
        for _ in 0..<40 {
            await tally.attempt()
            let failure: String
            var wait = Duration.zero
            switch await client.getJSON("/v1/nonce", answer: IssuedNonce.self) {
            case .accepted(let nonce):
                let payload = AttestationPayload(
                    deviceID: device.id, sequence: 1, issuedAt: Date(), nonce: nonce.value, report: stormReport)
                guard let data = try? PostureReport.wireEncoder().encode(payload),
                    let jws = try? CompactJWS.sign(payload: data, with: device.key)
                else { return await tally.fail("cannot sign") }
                switch await client.post(
                    "/v1/attestations", body: Array(jws.compact.utf8), contentType: "application/jose")
                {
                case .accepted: return await tally.deliver()
                case .refused(let error, _): failure = "refused \(error.error)"
                case .busy(let reason, let retryAfter):
                    failure = reason
                    wait = retryAfter
                case .unavailable(let reason): failure = reason
                }
            case .refused(let error, _): failure = "nonce refused \(error.error)"
            case .busy(let reason, let retryAfter):
                failure = reason
                wait = retryAfter
            case .unavailable(let reason): failure = reason
            }
            await tally.fail(failure)
            try? await Task.sleep(for: wait + .milliseconds(Int64(Double.random(in: 0...ceiling) * 1000)))
            ceiling = min(ceiling * 2, 8)
        }
    }

    /// A minimal valid report: the storm measures connections, not probes.
    static let stormReport = PostureReport(
        collectedAt: Date(), agentVersion: "storm",
        os: OSFacts(
            osRelease: .unavailable(reason: "storm", source: "bench"),
            kernelRelease: .unavailable(reason: "storm", source: "bench"),
            kernelVersion: .unavailable(reason: "storm", source: "bench"),
            architecture: .unavailable(reason: "storm", source: "bench"),
            machineID: .unavailable(reason: "storm", source: "bench"),
            bootID: .unavailable(reason: "storm", source: "bench"),
            uptimeSeconds: .unavailable(reason: "storm", source: "bench"),
            rebootRequired: .unavailable(reason: "storm", source: "bench")),
        diskEncryption: .unavailable(reason: "storm", source: "bench"),
        firewall: FirewallFacts(
            nftables: .unavailable(reason: "storm", source: "bench"),
            iptablesLegacy: .unavailable(reason: "storm", source: "bench"),
            inboundFiltered: .unavailable(reason: "storm", source: "bench"),
            activeFrameworks: .unavailable(reason: "storm", source: "bench")),
        journal: .unavailable(reason: "storm", source: "bench"),
        secureBoot: .unavailable(reason: "storm", source: "bench"),
        kernelLockdown: .unavailable(reason: "storm", source: "bench"),
        securityModules: .unavailable(reason: "storm", source: "bench"),
        sshd: .unavailable(reason: "storm", source: "bench"))
}
