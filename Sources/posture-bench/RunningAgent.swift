import Glibc

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A running `postured run` against a real `posture-collector serve` on this machine (both built next to
/// this benchmark): its private memory (RssAnon, what it costs a host beyond the shared libraries it maps)
/// and its CPU per report cycle, from gathering to delivery, with its verdict long-poll open meanwhile.
struct RunningAgent {
    var rssAnonKiB: Int
    var rssKiB: Int
    var cpuPerCycleMs: Double
    var cycles: Int

    static func measure(postured: String, collector: String, directory: String, cycles: Int) -> RunningAgent? {
        let state = directory + "/agent-collector"
        let collectorLog = directory + "/collector.log"
        let server = spawnBackground(
            [
                collector, "serve", "--state-dir", state, "--listen-enrollment", "127.0.0.1:0", "--listen-devices",
                "127.0.0.1:0", "--listen-api", "127.0.0.1:0", "--log-level", "warning",
            ], log: collectorLog)
        defer { stop(server) }
        guard let line = waitForLine("listening enrollment", in: collectorLog),
            let url = line.split(separator: " ").dropFirst(2).first
        else { return nil }
        let tokenFile = directory + "/token"
        _ = spawnMeasured(["sh", "-c", "'\(collector)' token create --state-dir '\(state)' > '\(tokenFile)'"])
        guard let token = try? String(contentsOfFile: tokenFile, encoding: .utf8) else { return nil }
        let agentState = directory + "/agent"
        let enrolled = spawnMeasured([
            postured, "enroll", "--collector", String(url), "--token",
            String(token.filter { !$0.isWhitespace }), "--state-dir", agentState, "--ca", state + "/ca.crt",
        ])
        guard enrolled.status == 0 else { return nil }
        let agent = spawnBackground(
            [postured, "run", "--state-dir", agentState, "--interval", "1s"], log: directory + "/agent.log")
        defer { stop(agent) }
        // Past start-up and the first deliveries; then `cycles` seconds at one cycle a second (±10% jitter).
        usleep(3_000_000)
        let before = processCPU(agent)
        usleep(UInt32(cycles) * 1_000_000)
        let cpu = processCPU(agent) - before
        let status = (try? String(contentsOfFile: "/proc/\(agent)/status", encoding: .utf8)) ?? ""
        func kib(_ name: String) -> Int {
            status.split(separator: "\n").first { $0.hasPrefix(name + ":") }
                .flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        }
        return RunningAgent(
            rssAnonKiB: kib("RssAnon"), rssKiB: kib("VmRSS"), cpuPerCycleMs: cpu * 1000 / Double(cycles),
            cycles: cycles)
    }

    /// Started with stdout and stderr to `log`.
    static func spawnBackground(_ arguments: [String], log: String) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        guard posix_spawnp(&pid, arguments[0], &actions, nil, argv, environ) == 0 else {
            print("cannot run \(arguments[0])")
            exit(69)
        }
        return pid
    }

    static func stop(_ pid: pid_t) {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }

    static func waitForLine(_ text: String, in log: String) -> String? {
        for _ in 0..<300 {
            if let content = try? String(contentsOfFile: log, encoding: .utf8),
                let line = content.split(separator: "\n").first(where: { $0.contains(text) })
            {
                return String(line)
            }
            usleep(50_000)
        }
        return nil
    }

    /// User and system CPU seconds of a running process.
    static func processCPU(_ pid: pid_t) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12 else { return 0 }
        return ((Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
