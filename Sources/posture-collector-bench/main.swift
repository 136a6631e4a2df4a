import BenchSupport
import Crypto
// posture-collector-bench: load on a real `posture-collector serve`, with its references in the same run.
// Enrolls N simulated devices (real P-256 keys, CSRs, certificates), then each sends signed attestations
// over its own reused mutual-TLS connection for a while. Prints accepted attestations/s, the collector's
// CPU per accepted attestation (from /proc/<pid>/stat), p50/p99 latency, and as references: the same
// server's rate on a constant route at the same concurrency, one ECDSA P-256 verification
// (`openssl speed ecdsap256`), and the server CPU of a fresh mTLS handshake next to `openssl s_server`'s.
// Asserts nothing.
//   swift build -c release && .build/release/posture-collector-bench [--devices 32] [--seconds 10]
//   .build/release/posture-collector-bench --storm 1000 [--nofile 32768]: a fleet reconnecting at once
import Foundation
import Glibc
import PostureAgent
import PostureModel
import PostureProbes
import X509

struct Options {
    var devices = 32
    var seconds = 10.0
    var handshakes = 300
    var collector: String?
    /// `--storm N`: the reconnect storm instead of the throughput phases (ReconnectStorm.swift).
    var storm: Int?
    var nofile = 32768

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            let text = iterator.next()
            switch argument {
            case "--devices": devices = text.flatMap(Int.init) ?? devices
            case "--seconds": seconds = text.flatMap(Double.init) ?? seconds
            case "--handshakes": handshakes = text.flatMap(Int.init) ?? handshakes
            case "--collector": collector = text
            case "--storm": storm = text.flatMap(Int.init)
            case "--nofile": nofile = text.flatMap(Int.init) ?? nofile
            default:
                print(
                    "usage: posture-collector-bench [--devices N] [--seconds S] [--handshakes N] [--collector PATH] [--storm N [--nofile N]]"
                )
                exit(64)
            }
        }
    }
}

let options = Options(CommandLine.arguments)
let binDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
let collectorBinary = options.collector ?? binDirectory.appendingPathComponent("posture-collector").path
if let storm = options.storm {
    exit(await ReconnectStorm.run(devices: storm, nofile: options.nofile, collectorBinary: collectorBinary))
}
let work = String(cString: mkdtemp(strdup("/tmp/posture-collector-bench-XXXXXX")))
let state = work + "/collector"

// Reference: one P-256 verification with OpenSSL on this machine. Run before any concurrency starts:
// children spawned from Swift's worker threads inherit their blocked signals, and `openssl speed`
// times its runs with SIGALRM.
let speed = run(["openssl", "speed", "-seconds", "2", "ecdsap256"])
let verifyLine = speed.split(separator: "\n").last { $0.contains("ecdsa (nistp256)") }
let verifyPerSecond = verifyLine.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
let verifyMicros = verifyPerSecond > 0 ? 1e6 / verifyPerSecond : 0

// The collector under test.
let server = startServer(
    [
        collectorBinary, "serve", "--state-dir", state, "--listen-enrollment", "127.0.0.1:0", "--listen-devices",
        "127.0.0.1:0",
        "--log-level", "error",
    ], log: work + "/collector.log")
defer { server.terminate() }
let enrollURL = String(waitFor("listening enrollment", in: work + "/collector.log").split(separator: " ")[2])
let devicesURL = String(waitFor("listening devices", in: work + "/collector.log").split(separator: " ")[2])
let token = run([collectorBinary, "token", "create", "--reusable", "--state-dir", state])
    .trimmingCharacters(in: .whitespacesAndNewlines)
let caPEM = (try? String(contentsOfFile: state + "/ca.crt", encoding: .utf8)) ?? ""

// One realistic report, gathered from this host, reused by every simulated device.
let report = ReportCollector().collect(in: ProbeContext(now: Date()))

struct SimulatedDevice: @unchecked Sendable {
    var id: String
    var key: SoftwareSigningKey
    var client: CollectorClient
    var nonce: String
    var certificatePEM: String
}

func enroll(_ index: Int) async -> SimulatedDevice {
    let key = SoftwareSigningKey(P256.Signing.PrivateKey())
    let machineID = (0..<32).map { _ in String(Int.random(in: 0..<16), radix: 16) }.joined()
    let csr = (try? DeviceKeyFile.csr(for: key, hostname: "bench-\(index)")) ?? ""
    let request = EnrollmentRequest(token: token, csr: csr, machineID: machineID, hostname: "bench-\(index)")
    let answer = try? await CollectorClient.using(baseURL: enrollURL, caPEM: caPEM) { client in
        await client.postJSON("/v1/enroll", request, answer: CertificateGrant.self)
    }
    guard case .accepted(let grant) = answer,
        let client = try? CollectorClient(
            baseURL: devicesURL, caPEM: caPEM, identity: (grant.certificate, key.privateKey.pemRepresentation))
    else {
        print("enrollment \(index) failed: \(String(describing: answer))")
        exit(1)
    }
    return SimulatedDevice(
        id: grant.deviceID, key: key, client: client, nonce: grant.nonce.value, certificatePEM: grant.certificate)
}

actor Recorder {
    var latencies: [Double] = []
    var refused = 0
    func record(_ seconds: Double) { latencies.append(seconds) }
    func refuse() { refused += 1 }
}

/// Every device sends, one request at a time on its own connection, until the deadline.
func load(_ devices: [SimulatedDevice], seconds: Double, attest: Bool) async -> (
    count: Int, refused: Int, cpu: Double, wall: Double, latencies: [Double]
) {
    let recorder = Recorder()
    let cpuBefore = cpuSeconds(of: server.processIdentifier)
    let start = Date()
    let deadline = start.addingTimeInterval(seconds)
    await withTaskGroup(of: Void.self) { group in
        for device in devices {
            group.addTask {
                var device = device
                var sequence: UInt64 = attest ? 0 : 0
                while Date() < deadline {
                    let begin = Date()
                    if attest {
                        sequence += 1
                        let payload = AttestationPayload(
                            deviceID: device.id, sequence: sequence, issuedAt: Date(), nonce: device.nonce,
                            report: report)
                        guard let data = try? PostureReport.wireEncoder().encode(payload),
                            let jws = try? CompactJWS.sign(payload: data, with: device.key)
                        else { return }
                        let answer = await device.client.post(
                            "/v1/attestations", body: Array(jws.compact.utf8), contentType: "application/jose")
                        guard case .accepted(let bytes) = answer,
                            let receipt = try? PostureReport.wireDecoder().decode(
                                AttestationReceipt.self, from: Data(bytes))
                        else {
                            await recorder.refuse()
                            continue
                        }
                        device.nonce = receipt.nextNonce.value
                    } else {
                        guard case .accepted = await device.client.get("/healthz") else {
                            await recorder.refuse()
                            continue
                        }
                    }
                    await recorder.record(Date().timeIntervalSince(begin))
                }
            }
        }
    }
    let wall = Date().timeIntervalSince(start)
    let cpu = cpuSeconds(of: server.processIdentifier) - cpuBefore
    let latencies = await recorder.latencies.sorted()
    return (latencies.count, await recorder.refused, cpu, wall, latencies)
}

print(
    "posture-collector-bench: \(options.devices) devices, \(fixed(options.seconds, 0)) s per phase, collector \(collectorBinary)"
)
var devices: [SimulatedDevice] = []
for index in 0..<options.devices { devices.append(await enroll(index)) }
let sampleSize = (try? PostureReport.wireEncoder().encode(report).count) ?? 0
print("enrolled \(devices.count) devices; report payload \(sampleSize) bytes")

// Warm-up: connections established, caches filled.
_ = await load(devices, seconds: 1, attest: false)
let trivial = await load(devices, seconds: options.seconds, attest: false)
let attest = await load(devices, seconds: options.seconds, attest: true)
for device in devices { await device.client.shutdown() }

// Handshakes: fresh mutual-TLS 1.3 connections from `openssl s_time`, first to the collector, then to
// `openssl s_server` with a P-256 certificate from the same CA; server CPU per connection.
let first = devices[0]
try? first.certificatePEM.write(toFile: work + "/device.crt", atomically: true, encoding: .utf8)
try? first.key.privateKey.pemRepresentation.write(toFile: work + "/device.key", atomically: true, encoding: .utf8)
func handshakes(port: String, serverPID: Int32) -> (connections: Int, cpuMicros: Double) {
    let before = cpuSeconds(of: serverPID)
    let output = run([
        "openssl", "s_time", "-connect", "127.0.0.1:\(port)", "-new", "-time", "\(Int(options.seconds))",
        "-cert", work + "/device.crt", "-key", work + "/device.key", "-CAfile", state + "/ca.crt",
    ])
    let cpu = cpuSeconds(of: serverPID) - before
    let connections =
        output.split(separator: "\n").first { $0.contains("connections in") }
        .flatMap { Int($0.split(separator: " ").first ?? "") } ?? 0
    return (connections, connections > 0 ? cpu / Double(connections) * 1e6 : 0)
}
let devicesPort = String(devicesURL.split(separator: ":").last ?? "")
let collectorHandshakes = handshakes(port: devicesPort, serverPID: server.processIdentifier)
run([
    "sh", "-c",
    "cd '\(work)' && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout s.key -subj /CN=localhost 2>/dev/null | openssl x509 -req -CA '\(state)/ca.crt' -CAkey '\(state)/ca.key' -days 1 -out s.crt 2>/dev/null",
])
let referencePort = 20000 + Int.random(in: 0..<20000)
let sServer = startServer(
    [
        "/usr/bin/openssl", "s_server", "-accept", "127.0.0.1:\(referencePort)", "-cert", work + "/s.crt", "-key",
        work + "/s.key", "-CAfile", state + "/ca.crt", "-Verify", "1", "-tls1_3", "-www",
    ], log: work + "/s_server.log")
usleep(500_000)
let referenceHandshakes = handshakes(port: "\(referencePort)", serverPID: sServer.processIdentifier)
kill(sServer.processIdentifier, SIGKILL)  // s_server -www may ignore SIGTERM while serving

let trivialRate = Double(trivial.count) / trivial.wall
let attestRate = Double(attest.count) / attest.wall
let cpuPerAttestation = attest.count > 0 ? attest.cpu / Double(attest.count) * 1e6 : 0
print("")
print(
    "trivial route GET /healthz (mTLS, keep-alive): \(fixed(trivialRate, 0)) req/s, p50 \(fixed(percentile(trivial.latencies, 0.5) * 1000, 2)) ms, p99 \(fixed(percentile(trivial.latencies, 0.99) * 1000, 2)) ms, collector CPU \(fixed(trivial.count > 0 ? trivial.cpu / Double(trivial.count) * 1e6 : 0, 0)) µs/req"
)
print(
    "attestations POST /v1/attestations:            \(fixed(attestRate, 0)) accepted/s (\(attest.refused) refused), p50 \(fixed(percentile(attest.latencies, 0.5) * 1000, 2)) ms, p99 \(fixed(percentile(attest.latencies, 0.99) * 1000, 2)) ms"
)
print(
    "collector CPU per accepted attestation:        \(fixed(cpuPerAttestation, 0)) µs (SQLite, WAL, synchronous=FULL, group commit)"
)
print("openssl speed ecdsap256: one verification      \(fixed(verifyMicros, 1)) µs")
print(
    "ratio accepted/s ÷ trivial req/s:              \(fixed(trivialRate > 0 ? attestRate / trivialRate : 0, 2))   (target ≥ 0.6)"
)
print(
    "ratio CPU/attestation ÷ one P-256 verify:      \(fixed(verifyMicros > 0 ? cpuPerAttestation / verifyMicros : 0, 2))   (target ≤ 3)"
)
print(
    "mTLS 1.3 handshake, server CPU:               collector \(fixed(collectorHandshakes.cpuMicros, 0)) µs (\(collectorHandshakes.connections) connections), openssl s_server \(fixed(referenceHandshakes.cpuMicros, 0)) µs (\(referenceHandshakes.connections))"
)
print("state and logs: \(work)")
