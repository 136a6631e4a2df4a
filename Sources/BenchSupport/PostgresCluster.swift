import Foundation
import Glibc

/// A PostgreSQL 15 cluster of the benchmark's own (Debian's `postgresql` package): `initdb` as the
/// `postgres` user when run as root, trust on loopback, and the server's default durability (fsync on,
/// synchronous commit), so that its figures compare with SQLite's `synchronous=FULL`.
public struct PostgresCluster: Sendable {
    public static let binaries = "/usr/lib/postgresql/15/bin"
    public let directory: String
    public let port: Int

    public var url: String { "postgresql://posture@127.0.0.1:\(port)/posture" }

    static var asPostgres: [String] { getuid() == 0 ? ["runuser", "-u", "postgres", "--"] : [] }

    /// Starts a new cluster in `directory` (created) with a database `posture`; exits when it cannot.
    public static func start(in directory: String, maxConnections: Int = 200) -> PostgresCluster {
        guard FileManager.default.isExecutableFile(atPath: "\(binaries)/initdb") else {
            print("--store postgresql needs PostgreSQL 15: apt-get install postgresql")
            exit(1)
        }
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // The postgres user must pass through the directory above (a mkdtemp directory is 0700).
        chmod((directory as NSString).deletingLastPathComponent, 0o755)
        chmod(directory, 0o755)
        if getuid() == 0 { run(["chown", "postgres", directory]) }
        let port = 20000 + Int.random(in: 0..<20000)
        checked(
            asPostgres + [
                "\(binaries)/initdb", "-D", "\(directory)/data", "-A", "trust", "-U", "posture", "-E", "UTF8",
            ])
        checked(
            asPostgres + [
                "\(binaries)/pg_ctl", "-D", "\(directory)/data", "-l", "\(directory)/log", "-w", "-o",
                "-k \(directory) -c listen_addresses=127.0.0.1 -p \(port) -c max_connections=\(maxConnections)",
                "start",
            ])
        let cluster = PostgresCluster(directory: directory, port: port)
        checked(["\(binaries)/createdb", "-h", "127.0.0.1", "-p", "\(port)", "-U", "posture", "posture"])
        return cluster
    }

    /// Runs a command; on failure prints what it said and exits. Through system(3), not Foundation's
    /// Process, whose exit detection a server left running by `pg_ctl start` would hold up forever.
    static func checked(_ arguments: [String]) {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("posture-bench-\(getpid()).out").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let quoted = arguments.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let status = system(quoted.joined(separator: " ") + " </dev/null >'\(log)' 2>&1")
        guard status == 0 else {
            let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            print("\(arguments.joined(separator: " ")) failed (\(status)):\n\(output)")
            exit(1)
        }
    }

    public func stop() {
        Self.checked(Self.asPostgres + ["\(Self.binaries)/pg_ctl", "-D", "\(directory)/data", "-m", "fast", "stop"])
    }

    /// One statement's result through `psql`, unaligned, tuples only.
    public func psql(_ sql: String, database: String = "posture") -> String {
        run([
            "\(Self.binaries)/psql", "-h", "127.0.0.1", "-p", "\(port)", "-U", "posture", "-d", database, "-At", "-c",
            sql,
        ]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// CPU seconds of the server: the postmaster and every backend it runs now.
    public func cpuSeconds() -> Double {
        guard let pidFile = try? String(contentsOfFile: "\(directory)/data/postmaster.pid", encoding: .utf8),
            let postmaster = pidFile.split(separator: "\n").first.flatMap({ Int32($0) })
        else { return 0 }
        var total = BenchSupport.cpuSeconds(of: postmaster)
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry),
                let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, Int32(fields[1]) == postmaster { total += BenchSupport.cpuSeconds(of: pid) }
        }
        return total
    }

    /// The database's own reference: `pgbench`'s built-in simple-update script (one UPDATE, one SELECT,
    /// one INSERT per transaction) at `clients` connections, `transactions` each; transactions per second.
    /// By count, not `-T`: pgbench times `-T` with SIGALRM, which a child of Swift's worker threads
    /// inherits blocked.
    public func pgbenchSimpleUpdate(clients: Int, transactions: Int) -> Double {
        run(["\(Self.binaries)/createdb", "-h", "127.0.0.1", "-p", "\(port)", "-U", "posture", "pgbench"])
        let connection = ["-h", "127.0.0.1", "-p", "\(port)", "-U", "posture"]
        run(["\(Self.binaries)/pgbench", "-i", "-q", "-s", "10"] + connection + ["pgbench"])
        let output = run(
            ["\(Self.binaries)/pgbench", "-b", "simple-update", "-c", "\(clients)", "-j", "2", "-t", "\(transactions)"]
                + connection + ["pgbench"])
        let line = output.split(separator: "\n").first { $0.hasPrefix("tps = ") }
        return line.flatMap { Double($0.dropFirst(6).split(separator: " ").first ?? "") } ?? 0
    }
}
