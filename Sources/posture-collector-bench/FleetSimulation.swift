import AsyncHTTPClient
import BenchSupport
import Crypto
import Foundation
import Glibc
import NIOCore
import NIOSSL
import PostureAgent
import PostureClient
import PostureModel
import Synchronization

/// `--fleet N`: a fleet on one collector, as agents behave. N devices enroll (real keys, CSRs,
/// certificates); each then holds one connection (HTTP/2, negotiated as the agent does), keeps a verdict
/// long-poll open (`?wait=25s`, re-asked with the ETag it got) and attests every `--interval` with ±10%
/// jitter, its first at a random point of the first interval. Latency is open-loop: counted from the time
/// each attestation was due, so a stall delays the clock it is measured by, not the measurement.
/// Then the collector restarts (SIGTERM, start) and the fleet reconnects: start-up time with N enrolled
/// devices that have reports, and the time until every device has been answered again.
/// Prints the figures next to their targets; asserts nothing.
enum FleetSimulation {
    struct Device: Sendable {
        let index: Int
        let id: String
        let key: SoftwareSigningKey
        let tls: TLSConfiguration
    }

    /// Shared between every device's two tasks and the reporter.
    final class Tally: Sendable {
        struct State {
            var latencies: [Double] = []
            var accepted = 0
            var refused: [String: Int] = [:]
            var polls = 0
            var lastAnswer: [Double]
        }
        let state: Mutex<State>
        init(devices: Int) { state = Mutex(State(lastAnswer: Array(repeating: 0, count: devices))) }
        func accepted(_ device: Int, latency: Double, at now: Double, counted: Bool) {
            state.withLock {
                if counted {
                    $0.accepted += 1
                    $0.latencies.append(latency)
                }
                $0.lastAnswer[device] = now
            }
        }
        func answered(_ device: Int, at now: Double) {
            state.withLock {
                $0.polls += 1
                $0.lastAnswer[device] = now
            }
        }
        func refused(_ why: String) { state.withLock { $0.refused[String(why.prefix(100)), default: 0] += 1 } }
    }

    static func run(
        devices count: Int, interval: Double, minutes: Double, report: PostureReport, collectorBinary: String
    ) async -> Int32 {
        // Both processes hold one descriptor per device and then some; as root the hard limit can be raised.
        var nofile = count + 2048
        var limit = rlimit(rlim_cur: rlim_t(nofile), rlim_max: rlim_t(nofile))
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) != 0 {
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            nofile = Int(limit.rlim_max)
            limit.rlim_cur = limit.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            guard count + 1024 <= nofile else {
                print(
                    "this machine caps descriptors at \(nofile) a process (not root, or a container without CAP_SYS_RESOURCE): at most \(nofile - 1024) devices, asked for \(count)"
                )
                return 1
            }
        }
        let work = String(cString: mkdtemp(strdup("/tmp/posture-fleet-XXXXXX")))
        let state = work + "/collector"
        // One loopback address gives ~28,000 source ports per destination: beyond that the devices spread
        // over 127.0.0.1–127.0.0.N, which only a listener on 0.0.0.0 accepts (mutual TLS still guards it).
        let addresses = max(1, (count + 19_999) / 20_000)
        let listen = addresses > 1 ? "0.0.0.0" : "127.0.0.1"
        try? """
        limits:
          devicesConnections: \(count + 1024)
          storeQueueDepth: 4096
        """.write(toFile: work + "/collector.yaml", atomically: true, encoding: .utf8)
        var generation = 0
        var devicesPort = 0  // the kernel's choice at the first start, asked for again at a restart
        func start() -> (Process, String, Double) {
            generation += 1
            let log = work + "/collector-\(generation).log"
            let begin = Date()
            let server = startServer(
                [
                    "/usr/bin/prlimit", "--nofile=\(nofile):\(nofile)", "--", collectorBinary, "serve", "--config",
                    work + "/collector.yaml", "--state-dir", state, "--listen-enrollment", "127.0.0.1:0",
                    "--listen-devices", "\(listen):\(devicesPort)", "--listen-api", "127.0.0.1:0", "--log-level",
                    "notice",
                ], log: log)
            let enroll = String(waitFor("listening enrollment", in: log).split(separator: " ")[2])
            devicesPort = Int(waitFor("listening devices", in: log).split(separator: ":").last ?? "") ?? 0
            _ = waitFor("verdicts ready", in: log, seconds: 600)
            return (server, enroll, Date().timeIntervalSince(begin))
        }
        var (server, enrollURL, _) = start()
        let token = BenchSupport.run([
            collectorBinary, "token", "create", "--reusable", "--state-dir", state, "--config",
            work + "/collector.yaml",
        ]).trimmingCharacters(in: .whitespacesAndNewlines)
        let caPEM = (try? String(contentsOfFile: state + "/ca.crt", encoding: .utf8)) ?? ""
        guard let ca = try? NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)) else {
            print("cannot read the collector's CA")
            return 1
        }
        print(
            "posture-collector-bench --fleet: \(count) devices, one attestation per \(fixed(interval, 0)) s each (±10%), \(fixed(minutes, 1)) min measured, collector \(collectorBinary)"
        )

        // Enrollment, 64 at a time over one client (not what is measured, but timed).
        let enrollBegin = Date()
        guard let enroller = try? CollectorClient(baseURL: enrollURL, caPEM: caPEM) else { return 1 }
        var fleet = await inBatches(count, width: 64) { index in
            await enroll(index, token: token, client: enroller, ca: ca)
        } progress: { enrolled in
            if enrolled % 10_000 < 64 && enrolled >= 10_000 { print("  enrolled \(enrolled)") }
        }
        await enroller.shutdown()
        fleet.sort { $0.index < $1.index }
        let enrollSeconds = Date().timeIntervalSince(enrollBegin)
        print(
            "enrolled \(fleet.count) devices in \(fixed(enrollSeconds, 0)) s (\(fixed(Double(fleet.count) / enrollSeconds, 0))/s)"
        )
        guard fleet.count == count else { return 1 }

        let enrolledMemory = processMemory(server.processIdentifier)
        print(
            "collector with \(count) enrolled devices, none connected: RSS \(fixed(enrolledMemory.rss / 1_048_576, 0)) MiB, anonymous \(fixed(enrolledMemory.anonymous / 1_048_576, 0)) MiB"
        )

        // The devices: one HTTP client for all (connections are pooled per TLS configuration, so per device).
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(20), read: .seconds(60))
        configuration.connectionPool = .init(idleTimeout: .seconds(600))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let tally = Tally(devices: count)
        let clock = Date()
        @Sendable func now() -> Double { Date().timeIntervalSince(clock) }
        let measureFrom = interval  // the first interval connects the fleet: not counted
        let stopAt = interval + minutes * 60
        let reportPart = (try? PostureReport.wireEncoder().encode(DetachedAttestation.ReportPart(report))) ?? Data()
        let journalPart = (try? PostureReport.wireEncoder().encode(report.journal)) ?? Data()
        let port = devicesPort

        let fleetTask = Task {
            await withTaskGroup(of: Void.self) { group in
                for device in fleet {
                    let url = "https://127.0.0.\(1 + device.index % addresses):\(port)"
                    group.addTask {
                        await attestLoop(
                            device, url: url, client: client, tally: tally, interval: interval, now: now,
                            counted: { $0 >= measureFrom && $0 < stopAt }, report: report,
                            parts: (reportPart, journalPart))
                    }
                    group.addTask { await pollLoop(device, url: url, client: client, tally: tally, now: now) }
                }
            }
        }

        // The steady phase, sampled once the fleet is connected.
        try? await Task.sleep(for: .seconds(measureFrom))
        let cpuBefore = cpuSeconds(of: server.processIdentifier)
        let countsBefore = tally.state.withLock { ($0.accepted, $0.polls) }
        try? await Task.sleep(for: .seconds(minutes * 60))
        let cpu = cpuSeconds(of: server.processIdentifier) - cpuBefore
        let memory = processMemory(server.processIdentifier)
        let descriptors =
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(server.processIdentifier)/fd"))?.count ?? 0
        let steady = tally.state.withLock { $0 }
        let accepted = steady.accepted - countsBefore.0
        let polls = steady.polls - countsBefore.1
        let latencies = steady.latencies.sorted()
        let refusedTotal = steady.refused.values.reduce(0, +)

        // Restart: the collector stops as systemd stops it and starts on its store of N devices.
        kill(server.processIdentifier, SIGTERM)
        server.waitUntilExit()
        let restart = now()
        let startup: Double
        (server, _, startup) = start()
        var reconnect: Double?
        while now() - restart < 300 {
            if tally.state.withLock({ $0.lastAnswer.allSatisfy { $0 > restart } }) {
                reconnect = now() - restart
                break
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        fleetTask.cancel()
        let after = tally.state.withLock { $0.refused }

        print("")
        print("steady state over \(fixed(minutes * 60, 0)) s, \(count) devices connected:")
        print(
            "  accepted attestations:   \(fixed(Double(accepted) / (minutes * 60), 0))/s (expected \(fixed(Double(count) / interval, 0))/s), \(refusedTotal) requests refused or failed until then"
        )
        for (why, times) in steady.refused.sorted(by: { $0.value > $1.value }).prefix(5) {
            print("    \(times)× \(why)")
        }
        print(
            "  verdict long-polls:      \(fixed(Double(polls) / (minutes * 60), 0)) answers/s (each device re-asks every 25 s)"
        )
        print(
            "  attestation latency:     p50 \(fixed(percentile(latencies, 0.5) * 1000, 1)) ms, p99 \(fixed(percentile(latencies, 0.99) * 1000, 1)) ms, max \(fixed((latencies.last ?? 0) * 1000, 1)) ms, from the time each was due   (target p99 < 100 ms)"
        )
        print(
            "  collector CPU:           \(fixed(cpu / (minutes * 60) * 100, 0))% of one core, \(fixed(accepted > 0 ? cpu / Double(accepted) * 1e6 : 0, 0)) µs per accepted attestation (long-polls included)"
        )
        print(
            "  collector memory:        RSS \(fixed(memory.rss / 1_048_576, 0)) MiB, anonymous \(fixed(memory.anonymous / 1_048_576, 0)) MiB; \(fixed((memory.rss - enrolledMemory.rss) / Double(count) / 1024, 1)) KiB more per connected, attesting device than enrolled alone   (target RSS < 2048 MiB)"
        )
        print("  collector descriptors:   \(descriptors)")
        print("restart with \(count) enrolled devices: ready (verdicts evaluated) \(fixed(startup, 1)) s after start")
        if let reconnect {
            print("  every device answered again \(fixed(reconnect, 1)) s after the restart   (target 60 s)")
        } else {
            let back = tally.state.withLock { $0.lastAnswer.filter { $0 > restart }.count }
            print(
                "  \(back) of \(count) devices answered again within 300 s of the restart   (target: all within 60 s)")
        }
        let during = after.merging(steady.refused) { total, before in total - before }.filter { $0.value > 0 }
        print("  requests that failed during the restart (the fleet retries with backoff and jitter):")
        for (why, times) in during.sorted(by: { $0.value > $1.value }).prefix(5) { print("    \(times)× \(why)") }
        // What the devices' state costs without their connections: a third start, nobody connected.
        kill(server.processIdentifier, SIGTERM)
        server.waitUntilExit()
        try? await client.shutdown()
        (server, _, _) = start()
        let loaded = processMemory(server.processIdentifier)
        print(
            "collector with \(count) devices that have reports, none connected: RSS \(fixed(loaded.rss / 1_048_576, 0)) MiB, anonymous \(fixed(loaded.anonymous / 1_048_576, 0)) MiB: \(fixed((loaded.rss - enrolledMemory.rss) / Double(count) / 1024, 1)) KiB per device for its state, \(fixed((memory.rss - loaded.rss) / Double(count) / 1024, 1)) KiB for its connection and long-poll"
        )
        print("state and logs: \(work)")
        kill(server.processIdentifier, SIGTERM)
        server.waitUntilExit()
        return 0
    }

    static func enroll(_ index: Int, token: String, client: CollectorClient, ca: [NIOSSLCertificate]) async -> Device? {
        let key = SoftwareSigningKey(P256.Signing.PrivateKey())
        let machineID = (0..<32).map { _ in String(Int.random(in: 0..<16), radix: 16) }.joined()
        guard let csr = try? DeviceKeyFile.csr(for: key, hostname: "fleet-\(index)") else { return nil }
        let request = EnrollmentRequest(token: token, csr: csr, machineID: machineID, hostname: "fleet-\(index)")
        guard case .accepted(let grant) = await client.postJSON("/v1/enroll", request, answer: CertificateGrant.self),
            let chain = try? NIOSSLCertificate.fromPEMBytes(Array(grant.certificate.utf8)),
            let privateKey = try? NIOSSLPrivateKey(bytes: Array(key.privateKey.pemRepresentation.utf8), format: .pem)
        else {
            print("enrollment \(index) failed")
            return nil
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv13
        tls.trustRoots = .certificates(ca)
        tls.certificateChain = chain.map { .certificate($0) }
        tls.privateKey = .privateKey(privateKey)
        return Device(index: index, id: grant.deviceID, key: key, tls: tls)
    }

    /// Attests when due; the next is due an interval (±10%) after the last was due, not after it ended.
    static func attestLoop(
        _ device: Device, url: String, client: HTTPClient, tally: Tally, interval: Double,
        now: @Sendable () -> Double, counted: @Sendable (Double) -> Bool, report: PostureReport, parts: (Data, Data)
    ) async {
        var due = Double.random(in: 0..<interval)
        var sequence: UInt64 = 0
        var nonce: String?
        while !Task.isCancelled {
            let wait = due - now()
            if wait > 0 { try? await Task.sleep(for: .milliseconds(Int64(wait * 1000))) }
            if nonce == nil {
                nonce = await fetch(device, url + "/v1/nonce", client: client, tally: tally).flatMap {
                    try? PostureReport.wireDecoder().decode(IssuedNonce.self, from: Data($0)).value
                }
            }
            if let current = nonce {
                sequence += 1
                var facts = report
                facts.os.uptimeSeconds = .observed(3600 + now(), source: "/proc/uptime")
                let payload = AttestationPayload(
                    deviceID: device.id, sequence: sequence, issuedAt: Date(), nonce: current, report: facts)
                var request = HTTPClientRequest(url: url + "/v1/attestations")
                request.method = .POST
                request.tlsConfiguration = device.tls
                request.headers.add(name: "Content-Type", value: DetachedAttestation.mediaType)
                if let body = try? DetachedAttestation.sign(
                    payload, reportPart: parts.0, journalPart: parts.1, with: device.key
                ).body {
                    request.body = .bytes(ByteBuffer(string: body))
                }
                if let answer = await send(request, client: client, tally: tally),
                    let receipt = try? PostureReport.wireDecoder().decode(AttestationReceipt.self, from: Data(answer))
                {
                    nonce = receipt.nextNonce.value
                    let at = now()
                    tally.accepted(device.index, latency: at - due, at: at, counted: counted(due))
                } else {
                    nonce = nil  // a refused or lost attestation: a fresh nonce, the same sequence rule
                    sequence -= 1
                    try? await Task.sleep(for: .milliseconds(Int64.random(in: 500...3000)))
                }
            } else {
                try? await Task.sleep(for: .milliseconds(Int64.random(in: 500...3000)))
            }
            due += interval * Double.random(in: 0.9...1.1)
        }
    }

    /// The agent's verdict feed: a long-poll always open, re-asked with the version it holds.
    static func pollLoop(
        _ device: Device, url: String, client: HTTPClient, tally: Tally, now: @Sendable () -> Double
    ) async {
        var etag: String?
        try? await Task.sleep(for: .milliseconds(Int64.random(in: 0...20_000)))
        while !Task.isCancelled {
            var request = HTTPClientRequest(url: url + "/v1/verdict?wait=25s")
            request.tlsConfiguration = device.tls
            if let etag { request.headers.add(name: "If-None-Match", value: etag) }
            do {
                let response = try await client.execute(request, timeout: .seconds(40))
                _ = try await response.body.collect(upTo: 1 << 20)
                if response.status.code == 200 || response.status.code == 304 {
                    etag = response.headers.first(name: "ETag") ?? etag
                    tally.answered(device.index, at: now())
                    continue
                }
                tally.refused("verdict \(response.status.code)")
            } catch {
                tally.refused("verdict: \(error)")
            }
            // As the agent: back off with jitter after a failure.
            try? await Task.sleep(for: .milliseconds(Int64.random(in: 1000...8000)))
        }
    }

    static func fetch(_ device: Device, _ url: String, client: HTTPClient, tally: Tally) async -> [UInt8]? {
        var request = HTTPClientRequest(url: url)
        request.tlsConfiguration = device.tls
        return await send(request, client: client, tally: tally)
    }

    static func send(_ request: HTTPClientRequest, client: HTTPClient, tally: Tally) async -> [UInt8]? {
        do {
            let response = try await client.execute(request, timeout: .seconds(40))
            let body = Array(try await response.body.collect(upTo: 1 << 20).readableBytesView)
            guard response.status.code == 200 else {
                tally.refused(
                    "\(request.url.split(separator: "/").last ?? "") \(response.status.code): \(String(decoding: body.prefix(80), as: UTF8.self))"
                )
                return nil
            }
            return body
        } catch {
            tally.refused("\(request.url.split(separator: "/").last ?? ""): \(error)")
            return nil
        }
    }

}
