import Foundation
import TestSupport
import Testing

/// A real `posture-collector serve` on loopback ports picked for the test, with its own state directory.
final class CollectorHarness: @unchecked Sendable {
    static let collectorBinary = Paths.executable("posture-collector")
    static let agentBinary = Paths.executable("postured")

    let directory: URL
    let stateDirectory: String
    let enrollmentPort: Int
    let devicesPort: Int
    let apiPort: Int
    private(set) var server: BackgroundProcess?
    private var starts = 0

    private var configPath: String?

    /// Put before the collector's command line (e.g. `env LD_PRELOAD=… ` for a faked clock).
    private let launchPrefix: [String]

    /// - Parameter configuration: YAML for `--config`, if any.
    /// - Parameter launchPrefix: a command the collector runs under, e.g. `FakeClock.command`.
    /// - Parameter identityFrom: another collector of the same fleet, whose CA and signing keys this one
    ///   is given (what an operator distributes to every collector sharing a PostgreSQL store).
    init(
        _ label: String, configuration: String? = nil, launchPrefix: [String] = [],
        identityFrom other: CollectorHarness? = nil
    ) throws {
        self.launchPrefix = launchPrefix
        directory = try Paths.temporaryDirectory(label)
        if let configuration {
            let path = directory.appendingPathComponent("collector.yaml").path
            try configuration.write(toFile: path, atomically: true, encoding: .utf8)
            configPath = path
        }
        stateDirectory = directory.appendingPathComponent("collector").path
        enrollmentPort = try freeLoopbackPort()
        devicesPort = try freeLoopbackPort()
        apiPort = try freeLoopbackPort()
        if let other {
            try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
            for name in try FileManager.default.contentsOfDirectory(atPath: other.stateDirectory)
            where name.hasSuffix(".crt") || name.hasSuffix(".key") || name.hasSuffix(".json") {
                try FileManager.default.copyItem(
                    atPath: other.stateDirectory + "/" + name, toPath: stateDirectory + "/" + name)
            }
        }
        try start()
    }

    var enrollmentURL: String { "https://127.0.0.1:\(enrollmentPort)" }
    var devicesURL: String { "https://127.0.0.1:\(devicesPort)" }
    var apiURL: String { "https://127.0.0.1:\(apiPort)" }
    var caPath: String { stateDirectory + "/ca.crt" }

    func start() throws {
        starts += 1
        let server = try BackgroundProcess(
            launchPrefix + [
                Self.collectorBinary, "serve", "--state-dir", stateDirectory,
                "--listen-enrollment", "127.0.0.1:\(enrollmentPort)", "--listen-devices", "127.0.0.1:\(devicesPort)",
                "--listen-api", "127.0.0.1:\(apiPort)",
            ] + (configPath.map { ["--config", $0] } ?? []),
            logPath: directory.appendingPathComponent("collector-\(starts).log").path)
        self.server = server
        var exited = false
        let up = BackgroundProcess.eventually(timeout: 30) {
            exited = server.wait(timeout: 0) != nil
            return exited
                || (server.log.contains("listening devices") && server.log.contains("listening enrollment")
                    && server.log.contains("listening api"))
        }
        if !up || exited { throw HarnessError("the collector did not start:\n\(server.log)") }
    }

    func kill9() {
        server?.signal(SIGKILL)
        server?.wait()
    }

    func stop() {
        server?.signal(SIGTERM)
        server?.wait()
    }

    @discardableResult
    func command(_ arguments: [String]) throws -> String {
        try Shell.run(commandLine(arguments)).stdout
    }

    /// The collector CLI when the test expects it may fail (and reads its error).
    func commandAllowingFailure(_ arguments: [String]) throws -> Shell.Output {
        try Shell.runAllowingFailure(commandLine(arguments))
    }

    private func commandLine(_ arguments: [String]) -> [String] {
        [Self.collectorBinary] + arguments + ["--state-dir", stateDirectory]
            + (configPath.map { ["--config", $0] } ?? [])
    }

    /// Signs in to the dashboard with an API token; the session cookie.
    func signInToDashboard(token: String) throws -> String {
        let output = try Shell.run([
            "curl", "-sS", "--cacert", caPath, "-o", "/dev/null", "-D", "-", "-H", "Origin: \(apiURL)",
            "--data-urlencode", "token=\(token)", apiURL + "/ui/sign-in",
        ]).stdout
        let cookie = try #require(output.split(separator: "\r\n").first { $0.lowercased().hasPrefix("set-cookie:") })
        return String(cookie.dropFirst("set-cookie: ".count).prefix { $0 != ";" })
    }

    /// A dashboard request with the session cookie (and a form, for a POST): its status and body.
    func dashboard(_ method: String, _ path: String, cookie: String?, form: String? = nil, origin: String? = nil)
        throws -> (status: Int, body: String)
    {
        var arguments = ["curl", "-sS", "--cacert", caPath, "-X", method, "-w", "\n%{http_code}"]
        if let cookie { arguments += ["-b", cookie] }
        if let form { arguments += ["--data", form] }
        if let origin { arguments += ["-H", "Origin: \(origin)"] }
        let output = try Shell.run(arguments + [apiURL + path]).stdout
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    func token(_ extra: [String] = []) throws -> String {
        try command(["token", "create"] + extra).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func fingerprint() throws -> String {
        try command(["ca", "fingerprint"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A state directory and fake root (own machine-id) for one more agent on this machine.
    func makeAgentDirectories(_ name: String) throws -> (state: String, root: String) {
        let root = directory.appendingPathComponent("\(name)-root")
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("etc"), withIntermediateDirectories: true)
        let machineID = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try (machineID + "\n").write(
            to: root.appendingPathComponent("etc/machine-id"), atomically: true, encoding: .utf8)
        return (directory.appendingPathComponent("\(name)-state").path, root.path)
    }

    /// Enrolls an agent with a fresh token; returns its state directory and device ID.
    /// With `caFile`, the agent trusts that file instead of pinning the collector's CA by fingerprint.
    /// With `hostname`, it enrolls in a UTS namespace of its own (unshare(1), root) under that name.
    /// With `through`, it enrolls at that URL (a load balancer in front of this collector and others).
    func enrollAgent(
        _ name: String, caFile: String? = nil, tokenOptions: [String] = [], hostname: String? = nil,
        through url: String? = nil, options: [String] = []
    )
        throws -> (state: String, deviceID: String)
    {
        let (state, root) = try makeAgentDirectories(name)
        let trust = try caFile.map { ["--ca", $0] } ?? ["--ca-fingerprint", try fingerprint()]
        let named = hostname.map { ["unshare", "--uts", "sh", "-c", "hostname \"$0\" && exec \"$@\"", $0] } ?? []
        let output = try Shell.run(
            named + [
                Self.agentBinary, "enroll", "--collector", url ?? enrollmentURL, "--token", try token(tokenOptions),
                "--state-dir", state,
                "--root", root,
            ] + trust + options
        ).stdout
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("device ") }) else {
            throw HarnessError("enroll printed no device line: \(output)")
        }
        return (state, String(line.dropFirst("device ".count)))
    }

    /// The device's stored attestations, oldest first.
    func attestations(_ deviceID: String) throws -> [StoredAttestationRow] {
        let json = try command(["devices", "attestations", deviceID, "--limit", "100000"])
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode([StoredAttestationRow].self, from: Data(json.utf8)).reversed()
    }

    deinit { server?.signal(SIGKILL) }
}

struct StoredAttestationRow: Decodable {
    var deviceID: String
    var sequence: UInt64
    var delivery: String
    var jws: String
    /// Schema 2: the parts the envelope names.
    var reportPart: String?
    var journalPart: String?

    /// The body the device sent: the JWS alone (schema 1), or the envelope and its parts (schema 2).
    var body: String {
        guard let reportPart, let journalPart else { return jws }
        return jws + "\n" + reportPart + "\n" + journalPart
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
