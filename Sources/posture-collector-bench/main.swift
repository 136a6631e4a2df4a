import AsyncHTTPClient
import BenchSupport
import Crypto
// posture-collector-bench: load on a real `posture-collector serve`, with its references in the same run.
// Enrolls N simulated devices (real P-256 keys, CSRs, certificates), then each sends signed attestations
// over its own reused mutual-TLS connection for a while. Prints accepted attestations/s, the collector's
// CPU per accepted attestation (from /proc/<pid>/stat), p50/p99 latency, and as references: the same
// server's rate on a constant route at the same concurrency, one ECDSA P-256 verification
// (`openssl speed ecdsap256`), and the server CPU of a fresh mTLS handshake next to `openssl s_server`'s.
// With `--store postgresql` the collectors (`--collectors N`, devices spread over them) share a PostgreSQL
// cluster the bench starts, and the database's own `pgbench` simple-update rate is the reference. Each run
// also prints the bytes on disk each stored attestation cost (the attestations, their indexes and the
// report parts they name; the simulated devices' facts do not change, as on a quiet fleet).
// Asserts nothing.
//   swift build -c release && .build/release/posture-collector-bench [--devices 32] [--seconds 10]
//       [--store sqlite|postgresql] [--collectors N] [--schema 1|2]
//   .build/release/posture-collector-bench --storm 1000 [--nofile 32768]: a fleet reconnecting at once
//   .build/release/posture-collector-bench --fleet 100000 [--interval 60] [--minutes 2]: a fleet at its
//       interval, one connection and one long-poll per device, open-loop latency, then a restart
import Foundation
import Glibc
import PostureAgent
import PostureClient
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
    var store = "sqlite"
    var collectors = 1
    /// The attestation schema the simulated devices send: 2 (the agent's), or 1 (earlier agents').
    var schema = 2
    /// `--fleet N`: a fleet at its attestation interval instead of the throughput phases (FleetSimulation.swift).
    var fleet: Int?
    var interval = 60.0
    var minutes = 2.0
    /// `--http 1`: the devices speak HTTP/1.1 instead of negotiating HTTP/2 as agents do, to show the
    /// transport's share of the cost.
    var http = 2

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
            case "--store" where text == "sqlite" || text == "postgresql": store = text ?? store
            case "--collectors": collectors = max(1, text.flatMap(Int.init) ?? collectors)
            case "--schema" where text == "1" || text == "2": schema = text.flatMap(Int.init) ?? schema
            case "--fleet": fleet = text.flatMap(Int.init)
            case "--interval": interval = text.flatMap(Double.init) ?? interval
            case "--minutes": minutes = text.flatMap(Double.init) ?? minutes
            case "--http" where text == "1" || text == "2": http = text.flatMap(Int.init) ?? http
            default:
                print(
                    "usage: posture-collector-bench [--devices N] [--seconds S] [--handshakes N] [--collector PATH] [--store sqlite|postgresql] [--collectors N] [--schema 1|2] [--http 1|2] [--storm N [--nofile N]] [--fleet N [--interval S] [--minutes M]]"
                )
                exit(64)
            }
        }
        // Several collectors share a fleet only on PostgreSQL.
        if store == "sqlite" { collectors = 1 }
    }
}

let options = Options(CommandLine.arguments)
let binDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
let collectorBinary = options.collector ?? binDirectory.appendingPathComponent("posture-collector").path
if let storm = options.storm {
    exit(await ReconnectStorm.run(devices: storm, nofile: options.nofile, collectorBinary: collectorBinary))
}
if let fleet = options.fleet {
    exit(
        await FleetSimulation.run(
            devices: fleet, interval: options.interval, minutes: options.minutes,
            report: ReportCollector().collect(in: ProbeContext(now: Date())), collectorBinary: collectorBinary))
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

// The collectors under test: the first creates the CA and signing keys, the others get copies of them
// (as an operator distributes them), all on the same store.
let cluster = options.store == "postgresql" ? PostgresCluster.start(in: work + "/postgres") : nil
if let cluster {
    try? "storage:\n  driver: postgresql\n  url: \(cluster.url)\n".write(
        toFile: work + "/collector.yaml", atomically: true, encoding: .utf8)
}
defer { cluster?.stop() }
let configuration = cluster == nil ? [] : ["--config", work + "/collector.yaml"]
var servers: [Process] = []
var listeners: [String] = []
var enrollURL = ""
for index in 0..<options.collectors {
    let directory = index == 0 ? state : work + "/collector\(index)"
    if index > 0 {
        run(["install", "-d", "-m", "700", directory])
        run([
            "sh", "-c",
            "cp -p '\(state)'/*.crt '\(state)'/*.key '\(state)'/signing-keys.json '\(directory)'/ 2>/dev/null",
        ])
    }
    let log = work + "/collector\(index).log"
    servers.append(
        startServer(
            [
                collectorBinary, "serve", "--state-dir", directory, "--listen-enrollment", "127.0.0.1:0",
                "--listen-devices", "127.0.0.1:0", "--listen-api", "127.0.0.1:0", "--log-level", "error",
            ] + configuration, log: log))
    let enrollment = String(waitFor("listening enrollment", in: log).split(separator: " ")[2])
    if index == 0 { enrollURL = enrollment }
    listeners.append(String(waitFor("listening devices", in: log).split(separator: " ")[2]))
}
let server = servers[0]
defer { for process in servers { process.terminate() } }
let devicesURLs = listeners
let devicesURL = devicesURLs[0]
let serverPIDs = servers.map(\.processIdentifier)
func collectorsCPU() -> Double { serverPIDs.reduce(0) { $0 + cpuSeconds(of: $1) } }
let token = run([collectorBinary, "token", "create", "--reusable", "--state-dir", state] + configuration)
    .trimmingCharacters(in: .whitespacesAndNewlines)
let caPEM = (try? String(contentsOfFile: state + "/ca.crt", encoding: .utf8)) ?? ""

/// What the store holds for attestations: their rows and indexes and the report parts they name, in bytes
/// (SQLite's dbstat through Python's sqlite3; PostgreSQL's relation sizes with TOAST and indexes); the
/// nonces issued with them apart (one per attestation, kept as long); and how many attestations.
func storedAttestations() -> (bytes: Double, nonces: Double, count: Int, nonceRows: Int) {
    if let cluster {
        let sizes = cluster.psql(
            """
            SELECT COALESCE(SUM(pg_total_relation_size(c.oid)) FILTER (WHERE c.relname <> 'nonces'), 0),
                COALESCE(SUM(pg_total_relation_size(c.oid)) FILTER (WHERE c.relname = 'nonces'), 0),
                (SELECT COUNT(*) FROM attestations), (SELECT COUNT(*) FROM nonces)
            FROM pg_class c WHERE c.relkind = 'r'
            AND (c.relname LIKE 'attestations%' OR c.relname IN ('report_bodies', 'nonces'))
            """
        ).split(separator: "|").map { Double($0) ?? 0 }
        return sizes.count == 4 ? (sizes[0], sizes[1], Int(sizes[2]), Int(sizes[3])) : (0, 0, 0, 0)
    }
    let script = """
        import sqlite3, sys
        db = sqlite3.connect(sys.argv[1])
        def size(tables): return db.execute("SELECT COALESCE(SUM(d.pgsize), 0) FROM dbstat d JOIN sqlite_master m ON m.name = d.name WHERE m.tbl_name IN (%s)" % tables).fetchone()[0]
        count = lambda table: db.execute("SELECT COUNT(*) FROM " + table).fetchone()[0]
        print(size("'attestations', 'report_bodies'"), size("'nonces'"), count("attestations"), count("nonces"))
        """
    let fields = run(["python3", "-c", script, state + "/collector.sqlite"]).split(whereSeparator: \.isWhitespace)
        .map { Double($0) ?? 0 }
    return fields.count == 4 ? (fields[0], fields[1], Int(fields[2]), Int(fields[3])) : (0, 0, 0, 0)
}

// One realistic report, gathered from this host, reused by every simulated device.
let report = ReportCollector().collect(in: ProbeContext(now: Date()))
// Its schema 2 parts, encoded once: an agent whose facts did not change sends the same bytes, and the
// load generator's CPU is the collector's too on this machine.
let reportPart = (try? PostureReport.wireEncoder().encode(DetachedAttestation.ReportPart(report))) ?? Data()
let journalPart = (try? PostureReport.wireEncoder().encode(report.journal)) ?? Data()

struct SimulatedDevice: @unchecked Sendable {
    var id: String
    var key: SoftwareSigningKey
    var client: CollectorClient
    /// Where the device is: its next nonce and last sequence, carried from one phase to the next.
    let progress: Progress
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
            baseURL: devicesURLs[index % devicesURLs.count], caPEM: caPEM,
            identity: (grant.certificate, key.privateKey.pemRepresentation),
            httpVersion: options.http == 1 ? .http1Only : .automatic)
    else {
        print("enrollment \(index) failed: \(String(describing: answer))")
        exit(1)
    }
    return SimulatedDevice(
        id: grant.deviceID, key: key, client: client, progress: Progress(nonce: grant.nonce.value),
        certificatePEM: grant.certificate)
}

/// Touched only by the one task that drives its device.
final class Progress: @unchecked Sendable {
    var nonce: String
    var sequence: UInt64 = 0

    init(nonce: String) { self.nonce = nonce }
}

actor Recorder {
    var latencies: [Double] = []
    var refused = 0
    func record(_ seconds: Double) { latencies.append(seconds) }
    func refuse() { refused += 1 }
}

/// Every device sends, one request at a time on its own connection, until the deadline.
func load(_ devices: [SimulatedDevice], seconds: Double, attest: Bool) async -> (
    count: Int, refused: Int, cpu: Double, databaseCPU: Double, wall: Double, latencies: [Double]
) {
    let recorder = Recorder()
    let cpuBefore = collectorsCPU()
    let databaseBefore = cluster?.cpuSeconds() ?? 0
    let start = Date()
    let deadline = start.addingTimeInterval(seconds)
    await withTaskGroup(of: Void.self) { group in
        for device in devices {
            group.addTask {
                let progress = device.progress
                while Date() < deadline {
                    let begin = Date()
                    if attest {
                        progress.sequence += 1
                        // The uptime advances as an agent's does; every other fact stays.
                        var current = report
                        current.os.uptimeSeconds = .observed(3600 + Double(progress.sequence), source: "/proc/uptime")
                        let payload = AttestationPayload(
                            deviceID: device.id, sequence: progress.sequence, issuedAt: Date(), nonce: progress.nonce,
                            report: current)
                        let body: String?
                        if options.schema == 2 {
                            body =
                                try? DetachedAttestation.sign(
                                    payload, reportPart: reportPart, journalPart: journalPart, with: device.key
                                ).body
                        } else {
                            body = (try? PostureReport.wireEncoder().encode(payload)).flatMap {
                                try? CompactJWS.sign(payload: $0, with: device.key).compact
                            }
                        }
                        guard let body else { return }
                        let answer = await device.client.post(
                            "/v1/attestations", body: Array(body.utf8),
                            contentType: options.schema == 2 ? DetachedAttestation.mediaType : "application/jose")
                        guard case .accepted(let bytes) = answer,
                            let receipt = try? PostureReport.wireDecoder().decode(
                                AttestationReceipt.self, from: Data(bytes))
                        else {
                            await recorder.refuse()
                            continue
                        }
                        progress.nonce = receipt.nextNonce.value
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
    let cpu = collectorsCPU() - cpuBefore
    let databaseCPU = (cluster?.cpuSeconds() ?? 0) - databaseBefore
    let latencies = await recorder.latencies.sorted()
    return (latencies.count, await recorder.refused, cpu, databaseCPU, wall, latencies)
}

print(
    "posture-collector-bench: \(options.devices) devices, \(fixed(options.seconds, 0)) s per phase, collector \(collectorBinary)"
)
print(
    "HTTP/\(options.http == 1 ? "1.1" : "2 (negotiated, as agents)"), store \(options.store)\(cluster.map { " (PostgreSQL 15, port \($0.port), fsync on)" } ?? " (WAL, synchronous=FULL)"), \(options.collectors) collector(s), attestation schema \(options.schema)"
)
var devices: [SimulatedDevice] = []
for index in 0..<options.devices { devices.append(await enroll(index)) }
let sampleSize = (try? PostureReport.wireEncoder().encode(report).count) ?? 0
print("enrolled \(devices.count) devices; report payload \(sampleSize) bytes")

// Warm-up: connections established, caches filled.
_ = await load(devices, seconds: 1, attest: false)
let trivial = await load(devices, seconds: options.seconds, attest: false)
// The first attestation of each device stores its parts; what follows are unchanged facts.
_ = await load(devices, seconds: 1, attest: true)
let storedBefore = storedAttestations()
let attest = await load(devices, seconds: options.seconds, attest: true)
let storedAfter = storedAttestations()
for device in devices { await device.client.shutdown() }
// The database's own reference, at the same concurrency, after the collectors' load.
let pgbench = cluster?.pgbenchSimpleUpdate(
    clients: options.devices, transactions: max(100, Int(Double(attest.count) / Double(options.devices))))

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
    "collector CPU per accepted attestation:        \(fixed(cpuPerAttestation, 0)) µs (\(options.collectors) collector(s) on \(options.store), group commit)"
)
if let pgbench {
    print(
        "PostgreSQL CPU per accepted attestation:       \(fixed(attest.count > 0 ? attest.databaseCPU / Double(attest.count) * 1e6 : 0, 0)) µs (the server and its backends)"
    )
    print(
        "pgbench simple-update, same server:            \(fixed(pgbench, 0)) transactions/s at \(options.devices) clients (reference: the database's own rate)"
    )
}
let storedCount = Double(max(1, storedAfter.count - storedBefore.count))
print(
    "bytes on disk per stored attestation:          \(fixed((storedAfter.bytes - storedBefore.bytes) / storedCount, 0)) B over \(storedAfter.count - storedBefore.count) attestations, facts unchanged (target ≤ 512)"
)
print(
    "nonces: \(storedAfter.nonceRows) rows for \(devices.count) devices after \(storedAfter.count) attestations (a used nonce's elders are deleted; the table grew \(fixed((storedAfter.nonces - storedBefore.nonces) / storedCount, 0)) B per attestation in this run\(cluster == nil ? "" : ", dead rows until autovacuum"))"
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
