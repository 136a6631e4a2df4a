// posture-verdict-bench: verdict look-ups and Shared Signals push latency on a real `posture-collector serve`.
// Enrolls N devices (10,000 by default; real keys, CSRs, certificates), then:
//  1. look-ups: C clients on reused TLS connections ask GET /v1/devices/{random}/verdict with an API token;
//     reference in the same run: the same API listener's constant GET /healthz at the same concurrency;
//     then by certificate fingerprint (sha256:HEX), of enrolled devices and of certificates never seen
//     (an access proxy asking about any client: 404, one indexed read);
//  2. push: a receiver in this process registers an RFC 8935 stream; a device alternates attestations that
//     pass and break a rule; the time from sending a breaking attestation to the SET's arrival is measured.
// Asserts nothing.
//   swift build -c release && .build/release/posture-verdict-bench [--devices 10000] [--seconds 10]
import BenchSupport
import Crypto
import Foundation
import Hummingbird
import Logging
import PostureAgent
import PostureClient
import PostureModel
import PostureProbes

struct Options {
    var devices = 10_000
    var seconds = 10.0
    var clients = 8
    var flips = 200
    var collector: String?

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            let text = iterator.next()
            switch argument {
            case "--devices": devices = text.flatMap(Int.init) ?? devices
            case "--seconds": seconds = text.flatMap(Double.init) ?? seconds
            case "--clients": clients = text.flatMap(Int.init) ?? clients
            case "--flips": flips = text.flatMap(Int.init) ?? flips
            case "--collector": collector = text
            default:
                print(
                    "usage: posture-verdict-bench [--devices N] [--seconds S] [--clients C] [--flips F] [--collector PATH]"
                )
                exit(64)
            }
        }
    }
}

let options = Options(CommandLine.arguments)
let binDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
let collectorBinary = options.collector ?? binDirectory.appendingPathComponent("posture-collector").path
let work = String(cString: mkdtemp(strdup("/tmp/posture-verdict-bench-XXXXXX")))
let state = work + "/collector"
let policyPath = work + "/policy.yaml"
try """
report: {maxAge: 1h}
rules:
  - {name: supported-os, check: osVersion, minimum: {benchos: "2"}, severity: high}
""".write(toFile: policyPath, atomically: true, encoding: .utf8)

let server = startServer(
    [
        collectorBinary, "serve", "--state-dir", state, "--listen-enrollment", "127.0.0.1:0", "--listen-devices",
        "127.0.0.1:0", "--listen-api", "127.0.0.1:0", "--policy", policyPath, "--log-level", "error",
    ], log: work + "/collector.log")
defer { server.terminate() }
let enrollURL = String(waitFor("listening enrollment", in: work + "/collector.log").split(separator: " ")[2])
let devicesURL = String(waitFor("listening devices", in: work + "/collector.log").split(separator: " ")[2])
let apiURL = String(waitFor("listening api", in: work + "/collector.log").split(separator: " ")[2])
let token = run([collectorBinary, "token", "create", "--reusable", "--ttl", "1h", "--state-dir", state])
    .trimmingCharacters(in: .whitespacesAndNewlines)
let apiToken = run([
    collectorBinary, "apitoken", "create", "--name", "bench", "--scope", "verdict:read", "--scope", "ssf:manage",
    "--state-dir", state,
]).trimmingCharacters(in: .whitespacesAndNewlines)
let caPEM = (try? String(contentsOfFile: state + "/ca.crt", encoding: .utf8)) ?? ""
let authorization = [("Authorization", "Bearer \(apiToken)")]

// MARK: Enrollment

struct Enrolled: @unchecked Sendable {
    var id: String
    var key: SoftwareSigningKey
    var certificate: String
    var nonce: String
}

print(
    "posture-verdict-bench: \(options.devices) devices, \(options.clients) clients, \(fixed(options.seconds, 0)) s per phase"
)
let enrollStart = Date()
let enrollClient = try CollectorClient(baseURL: enrollURL, caPEM: caPEM)
var enrolled: [Enrolled] = []
await withTaskGroup(of: [Enrolled].self) { group in
    let workers = 8
    for worker in 0..<workers {
        group.addTask {
            var result: [Enrolled] = []
            for index in stride(from: worker, to: options.devices, by: workers) {
                let key = SoftwareSigningKey(P256.Signing.PrivateKey())
                let machineID = (0..<32).map { _ in String(Int.random(in: 0..<16), radix: 16) }.joined()
                let csr = (try? DeviceKeyFile.csr(for: key, hostname: "bench-\(index)")) ?? ""
                let request = EnrollmentRequest(
                    token: token, csr: csr, machineID: machineID, hostname: "bench-\(index)")
                guard
                    case .accepted(let grant) = await enrollClient.postJSON(
                        "/v1/enroll", request, answer: CertificateGrant.self)
                else {
                    print("enrollment \(index) failed")
                    exit(1)
                }
                result.append(
                    Enrolled(id: grant.deviceID, key: key, certificate: grant.certificate, nonce: grant.nonce.value))
            }
            return result
        }
    }
    for await part in group { enrolled += part }
}
await enrollClient.shutdown()
print("enrolled \(enrolled.count) devices in \(fixed(Date().timeIntervalSince(enrollStart), 1)) s")

// MARK: Look-ups

actor Recorder {
    var latencies: [Double] = []
    var failures = 0
    func record(_ seconds: Double) { latencies.append(seconds) }
    func fail() { failures += 1 }
}

/// `answered`: the status that counts as an answer besides 200 (404 for look-ups of unknown certificates).
func load(seconds: Double, answered: Int = 200, path: @escaping @Sendable () -> String) async -> (
    rate: Double, p50: Double, p99: Double, cpu: Double, failures: Int
) {
    let recorder = Recorder()
    let cpuBefore = cpuSeconds(of: server.processIdentifier)
    let start = Date()
    let deadline = start.addingTimeInterval(seconds)
    await withTaskGroup(of: Void.self) { group in
        for _ in 0..<options.clients {
            group.addTask {
                guard let client = try? CollectorClient(baseURL: apiURL, caPEM: caPEM) else { return }
                while Date() < deadline {
                    let begin = Date()
                    switch await client.get(path(), headers: authorization) {
                    case .accepted: await recorder.record(Date().timeIntervalSince(begin))
                    case .refused(_, let status) where status == answered:
                        await recorder.record(Date().timeIntervalSince(begin))
                    default: await recorder.fail()
                    }
                }
                await client.shutdown()
            }
        }
    }
    let wall = Date().timeIntervalSince(start)
    let cpu = cpuSeconds(of: server.processIdentifier) - cpuBefore
    let latencies = await recorder.latencies.sorted()
    return (
        Double(latencies.count) / wall, percentile(latencies, 0.5), percentile(latencies, 0.99),
        latencies.isEmpty ? 0 : cpu / Double(latencies.count), await recorder.failures
    )
}

let ids = enrolled.map(\.id)
_ = await load(seconds: 1) { "/healthz" }  // warm-up: connections, token cache
let trivial = await load(seconds: options.seconds) { "/healthz" }
let lookups = await load(seconds: options.seconds) { "/v1/devices/\(ids.randomElement() ?? "")/verdict" }
let fingerprints = enrolled.compactMap { CertificateFingerprint.sha256(pem: $0.certificate) }
let byFingerprint = await load(seconds: options.seconds) {
    "/v1/devices/sha256:\(fingerprints.randomElement() ?? "")/verdict"
}
let unknownCertificates = await load(seconds: options.seconds, answered: 404) {
    "/v1/devices/sha256:\(Hex.encode((0..<32).map { _ in UInt8.random(in: 0...255) }))/verdict"
}

// MARK: Push latency

actor Arrivals {
    var waiting: [String: CheckedContinuation<Date, Never>] = [:]
    var early: [String: Date] = [:]
    func arrived(_ key: String, at time: Date) {
        if let continuation = waiting.removeValue(forKey: key) {
            continuation.resume(returning: time)
        } else {
            early[key] = time
        }
    }
    func wait(_ key: String) async -> Date {
        if let time = early.removeValue(forKey: key) { return time }
        return await withCheckedContinuation { waiting[key] = $0 }
    }
}
let arrivals = Arrivals()
let receiverPort = 30000 + Int.random(in: 0..<20000)
let router = Router()
router.post("/events") { request, _ -> HTTPResponse.Status in
    let arrival = Date()
    let body = try await request.body.collect(upTo: 1 << 20)
    let parts = String(buffer: body).split(separator: ".")
    if parts.count == 3, let claims = Base64URL.decode(parts[1]),
        let object = try? JSONSerialization.jsonObject(with: claims) as? [String: Any],
        let posture = object["posture"] as? [String: Any], let device = posture["device_id"] as? String,
        let status = posture["status"] as? String
    {
        await arrivals.arrived("\(device)/\(status)", at: arrival)
    }
    return .accepted
}
var receiverLogger = Logger(label: "receiver")
receiverLogger.logLevel = .error
let receiver = Application(
    router: router, configuration: .init(address: .hostname("127.0.0.1", port: receiverPort)), logger: receiverLogger)
let receiverTask = Task { try await receiver.runService() }
usleep(300_000)
let apiClient = try CollectorClient(baseURL: apiURL, caPEM: caPEM)
let streamRequest = """
    {"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": "http://127.0.0.1:\(receiverPort)/events"}, "aud": "bench"}
    """
guard
    case .accepted = await apiClient.post(
        "/ssf/streams", body: Array(streamRequest.utf8), contentType: "application/json", headers: authorization)
else {
    print("cannot register the SSF stream")
    exit(1)
}

let baseReport = ReportCollector().collect(in: ProbeContext(now: Date()))
func report(version: String) -> PostureReport {
    var report = baseReport
    report.os.osRelease = .observed(["ID": "benchos", "VERSION_ID": version], source: "bench")
    return report
}
var device = enrolled[0]
let deviceClient = try CollectorClient(
    baseURL: devicesURL, caPEM: caPEM, identity: (device.certificate, device.key.privateKey.pemRepresentation))
var sequence: UInt64 = 0
@MainActor func attest(_ report: PostureReport) async -> Bool {
    sequence += 1
    let payload = AttestationPayload(
        deviceID: device.id, sequence: sequence, issuedAt: Date(), nonce: device.nonce, report: report)
    guard let data = try? PostureReport.wireEncoder().encode(payload),
        let jws = try? CompactJWS.sign(payload: data, with: device.key),
        case .accepted(let bytes) = await deviceClient.post(
            "/v1/attestations", body: Array(jws.compact.utf8), contentType: "application/jose"),
        let receipt = try? PostureReport.wireDecoder().decode(AttestationReceipt.self, from: Data(bytes))
    else { return false }
    device.nonce = receipt.nextNonce.value
    return true
}
var pushLatencies: [Double] = []
_ = await attest(report(version: "2"))
_ = await arrivals.wait("\(device.id)/compliant")  // unknown -> compliant
for _ in 0..<options.flips {
    let sent = Date()
    guard await attest(report(version: "1")) else {
        print("attestation refused")
        exit(1)
    }
    pushLatencies.append(await arrivals.wait("\(device.id)/noncompliant").timeIntervalSince(sent))
    guard await attest(report(version: "2")) else {
        print("attestation refused")
        exit(1)
    }
    _ = await arrivals.wait("\(device.id)/compliant")
}
pushLatencies.sort()
await deviceClient.shutdown()
await apiClient.shutdown()
receiverTask.cancel()

print("")
print(
    "trivial route GET /healthz (TLS, keep-alive): \(fixed(trivial.rate, 0)) req/s, p50 \(fixed(trivial.p50 * 1000, 2)) ms, p99 \(fixed(trivial.p99 * 1000, 2)) ms, collector CPU \(fixed(trivial.cpu * 1e6, 0)) µs/req"
)
print(
    "verdict look-ups GET /v1/devices/{id}/verdict: \(fixed(lookups.rate, 0)) req/s, p50 \(fixed(lookups.p50 * 1000, 2)) ms, p99 \(fixed(lookups.p99 * 1000, 2)) ms, collector CPU \(fixed(lookups.cpu * 1e6, 0)) µs/req (\(lookups.failures) failed; \(enrolled.count) devices)"
)
for (name, result) in [
    ("by fingerprint GET /v1/devices/sha256:HEX/verdict", byFingerprint),
    ("unknown certificate (404) sha256:HEX          ", unknownCertificates),
] {
    print(
        "\(name): \(fixed(result.rate, 0)) req/s, p50 \(fixed(result.p50 * 1000, 2)) ms, p99 \(fixed(result.p99 * 1000, 2)) ms, collector CPU \(fixed(result.cpu * 1e6, 0)) µs/req (\(result.failures) failed)"
    )
}
print(
    "ratio look-ups/s ÷ trivial req/s:              \(fixed(trivial.rate > 0 ? lookups.rate / trivial.rate : 0, 2))   (target ≥ 0.7; p99 target < 2 ms)"
)
print(
    "breaking attestation sent → SET received:     p50 \(fixed(percentile(pushLatencies, 0.5) * 1000, 1)) ms, p99 \(fixed(percentile(pushLatencies, 0.99) * 1000, 1)) ms, max \(fixed((pushLatencies.last ?? 0) * 1000, 1)) ms over \(pushLatencies.count) changes   (target p99 < 100 ms)"
)
print("state and logs: \(work)")
