import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a program with posix_spawn and waitpid, output to a file. For scripts that start
/// systemd-nspawn: after that, Foundation's `Process` stops noticing its children's exits (they stay
/// zombies and `waitUntilExit` never returns), so the whole scenario runs under one child reaped here.
public enum DirectSpawn {
    /// The exit status, or nil when `timeout` passed (the process is then killed).
    public static func run(_ arguments: [String], logPath: String, timeout: TimeInterval) throws -> Int32? {
        let pid = try spawn(arguments, logPath: logPath)
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while Date() < deadline {
            if waitpid(pid, &status, WNOHANG) == pid { return (status >> 8) & 0xff }
            usleep(50_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
        return nil
    }

    /// Starts `arguments` (found on PATH) with standard input /dev/null and both outputs to `logPath`.
    static func spawn(_ arguments: [String], logPath: String) throws -> pid_t {
        markInheritedDescriptorsCloseOnExec()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, arguments[0], &actions, nil, argv, environ)
        guard spawned == 0 else { throw SpawnError("posix_spawnp \(arguments[0]): errno \(spawned)") }
        return pid
    }

    /// A server started the same way and left running (sshd: a Foundation `Process` parent stops
    /// noticing its other children's exits once sshd has served a connection); `stop` ends and reaps it.
    public final class Server: @unchecked Sendable {
        public let pid: pid_t
        public let logPath: String

        public init(_ arguments: [String], logPath: String) throws {
            self.logPath = logPath
            pid = try spawn(arguments, logPath: logPath)
        }

        public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

        private var stopped = false

        public func stop() {
            guard !stopped else { return }
            stopped = true
            kill(pid, SIGTERM)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }

        deinit { stop() }
    }

    /// The test runner holds descriptors without close-on-exec (Foundation's pipes among them); a
    /// scenario must inherit none: mmdebstrap, for one, hands apt a two-digit fd that dash cannot parse.
    static func markInheritedDescriptorsCloseOnExec() {
        guard let directory = opendir("/proc/self/fd") else { return }
        var descriptors: [Int32] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let fd = Int32(name), fd > 2 { descriptors.append(fd) }
        }
        closedir(directory)
        for fd in descriptors {
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
    }
}

public struct SpawnError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
