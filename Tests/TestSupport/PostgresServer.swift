import Foundation

/// A throwaway PostgreSQL 15 cluster for this test process (TESTBED.md): `initdb` in a scratch directory
/// (as the `postgres` user when we are root, which initdb refuses to be), trust authentication on a free
/// loopback port. Started once, on first use; a watchdog stops it when this process ends, however it ends.
/// Each test gets a database of its own (`database()`).
public actor PostgresServer {
    public static let binaries = "/usr/lib/postgresql/15/bin"
    public static let shared = PostgresServer()

    public struct Endpoint: Sendable {
        public var host: String
        public var port: Int
        public var username: String
        /// Set on a secured cluster: the user's password, and the CA of the server's certificate.
        public var password: String?
        public var caPath: String?
    }

    private var started: Endpoint?
    private var directory: String?
    private var databases = 0
    /// TLS only (1.3, a certificate for 127.0.0.1 from a CA of its own) and SCRAM passwords, instead of
    /// trust on loopback: for the tests of authentication and TLS to the server.
    private let secured: Bool

    /// A cluster of its own (for a test that stops and starts it, or a secured one); `shared` serves
    /// everything else.
    public init(secured: Bool = false) { self.secured = secured }

    /// Why PostgreSQL cannot run here, or nil.
    public static var missing: String? {
        FileManager.default.isExecutableFile(atPath: "\(binaries)/initdb")
            ? nil : "needs PostgreSQL 15 (apt-get install postgresql, as in .ci/run)"
    }

    public func endpoint() throws -> Endpoint {
        if let started { return started }
        // Not under the scratch directory, which is removed at exit before the watchdog stops the server.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "posture-postgres-\(getpid())-\(UUID().uuidString.prefix(8))"
        )
        .path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var port = try freeLoopbackPort()
        let asPostgres: ([String]) -> [String] = { command in
            Requirement.isRoot ? ["runuser", "-u", "postgres", "--"] + command : command
        }
        if Requirement.isRoot {
            _ = try Shell.run(["chown", "-R", "postgres", directory])
            // The scratch directories above it must be passable for the postgres user.
        }
        var password: String?
        var caPath: String?
        var authentication = ["-A", "trust"]
        if secured {
            let secret = UUID().uuidString
            try secret.write(toFile: "\(directory)/pwfile", atomically: true, encoding: .utf8)
            for (name, subject, issuer) in [
                ("ca", "/CN=posture test PostgreSQL CA", nil), ("server", "/CN=127.0.0.1", "ca"),
            ] {
                var request = [
                    "openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                    "\(directory)/\(name).key", "-out", "\(directory)/\(name).crt", "-subj", subject, "-days", "2",
                ]
                if let issuer {
                    request += [
                        "-CA", "\(directory)/\(issuer).crt", "-CAkey", "\(directory)/\(issuer).key", "-addext",
                        "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    ]
                } else {
                    request += ["-x509", "-addext", "basicConstraints=critical,CA:TRUE"]
                }
                _ = try Shell.run(request)
            }
            password = secret
            caPath = "\(directory)/ca.crt"
            authentication = ["-A", "scram-sha-256", "--pwfile", "\(directory)/pwfile"]
        }
        if Requirement.isRoot {
            _ = try Shell.run(["chown", "-R", "postgres", directory])
        }
        if secured { _ = try Shell.run(["chmod", "600", "\(directory)/server.key", "\(directory)/pwfile"]) }
        _ = try Shell.run(
            asPostgres(
                ["\(Self.binaries)/initdb", "-D", "\(directory)/data", "-U", "posture", "-E", "UTF8", "--no-sync"]
                    + authentication))
        if secured {
            // TLS or nothing: a connection without it is rejected before any password is asked.
            try """
            local all all scram-sha-256
            hostssl all all 127.0.0.1/32 scram-sha-256
            hostnossl all all 0.0.0.0/0 reject
            """.write(toFile: "\(directory)/data/pg_hba.conf", atomically: false, encoding: .utf8)
        }
        // Started through DirectSpawn, so the server inherits none of the runner's pipes (Shell.run would
        // wait for their end forever); with it, a watchdog that stops and removes the cluster when this process is
        // gone (a crash included).
        let pgCtl = asPostgres(["\(Self.binaries)/pg_ctl", "-D", "\(directory)/data"]).joined(separator: " ")
        // Three tries, each on a newly chosen port: another test may bind the free port between its choice
        // and the server's bind (seen once in a full run).
        for attempt in 1...3 {
            let script = """
                set -e
                \(pgCtl) -l \(directory)/log -w -o '\(serverOptions(directory: directory, port: port))' start
                (while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done; \(pgCtl) -m immediate stop; rm -rf \(directory)) </dev/null >/dev/null 2>&1 &
                """
            let status = try DirectSpawn.run(
                ["/bin/sh", "-c", script], logPath: "\(directory)/start.log", timeout: 60)
            if status == 0 { break }
            let log = (try? String(contentsOfFile: "\(directory)/start.log", encoding: .utf8)) ?? ""
            let server = (try? String(contentsOfFile: "\(directory)/log", encoding: .utf8)) ?? ""
            guard attempt < 3 else {
                throw SpawnError(
                    "PostgreSQL did not start (status \(status.map(String.init) ?? "timeout")): \(log)\n\(server.suffix(2000))"
                )
            }
            port = try freeLoopbackPort()
        }
        let endpoint = Endpoint(
            host: "127.0.0.1", port: port, username: "posture", password: password, caPath: caPath)
        started = endpoint
        self.directory = directory
        return endpoint
    }

    private func serverOptions(directory: String, port: Int) -> String {
        "-k \(directory) -c listen_addresses=127.0.0.1 -p \(port) -c fsync=off -c max_connections=500"
            + (secured
                ? " -c ssl=on -c ssl_cert_file=\(directory)/server.crt -c ssl_key_file=\(directory)/server.key"
                    + " -c ssl_min_protocol_version=TLSv1.3" : "")
    }

    /// Stops the server (fast shutdown: connections are closed), as an outage or a restart would.
    public func stop() throws {
        guard let directory else { return }
        try control(["-m", "fast", "stop"], directory: directory)
    }

    /// Starts it again on the same port, with everything it stored.
    public func start() throws {
        guard let directory, let started else { return }
        try control(
            [
                "-l", "\(directory)/log", "-o", serverOptions(directory: directory, port: started.port), "start",
            ], directory: directory)
    }

    private func control(_ arguments: [String], directory: String) throws {
        let command =
            (Requirement.isRoot ? ["runuser", "-u", "postgres", "--"] : [])
            + ["\(Self.binaries)/pg_ctl", "-D", "\(directory)/data", "-w"] + arguments
        let status = try DirectSpawn.run(command, logPath: "\(directory)/control.log", timeout: 60)
        guard status == 0 else {
            let log = (try? String(contentsOfFile: "\(directory)/control.log", encoding: .utf8)) ?? ""
            throw SpawnError("pg_ctl \(arguments.last ?? "") failed: \(log)")
        }
    }

    /// A new, empty database on the shared cluster.
    public func database(_ label: String) throws -> (endpoint: Endpoint, name: String) {
        let endpoint = try endpoint()
        databases += 1
        let name = "\(label)_\(getpid())_\(databases)".lowercased()
        _ = try Shell.run(
            ["env"] + (endpoint.password.map { ["PGPASSWORD=\($0)", "PGSSLMODE=require"] } ?? []) + [
                "\(Self.binaries)/createdb", "-h", endpoint.host, "-p", String(endpoint.port), "-U", endpoint.username,
                name,
            ])
        return (endpoint, name)
    }
}
