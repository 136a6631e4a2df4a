import Dispatch

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a helper program (`iptables-nft-save`, `usermod`, `passwd`, `wall`) within a time and size limit:
/// it is killed when it takes longer, never inherits the caller's environment, signal dispositions or
/// descriptors beyond the standard three. The child is spawned from the calling thread, so it shares that
/// thread's namespaces; `run` does the waiting on a thread of its own, off the caller's.
public enum BoundedChildProcess {
    /// glibc 2.34's `posix_spawn_file_actions_addclosefrom_np`, which Swift's Glibc module does not export.
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    nonisolated(unsafe) private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    /// `output`, waited for on a dispatch thread, so an actor calling it never blocks a cooperative thread
    /// for the length of a hung helper. A helper that cannot start, times out or is killed is an error.
    public static func run(
        _ arguments: [String], timeout: Duration = .seconds(10), limit: Int = 1 << 20
    ) async throws(SystemError) -> (status: Int32?, output: String) {
        let result: Result<(status: Int32?, output: String), SystemError> = await withCheckedContinuation {
            continuation in
            DispatchQueue.global().async {
                do throws(SystemError) {
                    continuation.resume(returning: .success(try output(arguments, timeout: timeout, limit: limit)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    /// What the program printed on standard output, and its exit status (nil when a signal ended it).
    /// Standard input and error are /dev/null; the environment holds only `PATH` and `LC_ALL=C`.
    public static func output(
        _ arguments: [String], timeout: Duration = .seconds(2), limit: Int = 4 << 20
    ) throws(SystemError) -> (status: Int32?, output: String) {
        guard let path = arguments.first else { throw SystemError(code: .malformed, call: "posix_spawn") }
        var pipe: [Int32] = [-1, -1]
        guard Glibc.pipe(&pipe) == 0 else { throw SystemError.errno(errno, call: "pipe") }
        // Not inherited by other programs; dup2 in the child clears the flag on its standard output.
        for fd in pipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipe[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        // Only the three standard descriptors: nothing the agent holds open (sockets, the journal, its
        // state files) reaches the helper, close-on-exec or not.
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, 3) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The child starts with no blocked signals and default dispositions (SIGPIPE is ignored here).
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let environment: [UnsafeMutablePointer<CChar>?] =
            ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"].map { (text: String) in strdup(text) } + [nil]
        defer { for pointer in argv + environment { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, &attributes, argv, environment)
        close(pipe[1])
        defer { close(pipe[0]) }
        guard spawned == 0 else { throw SystemError.errno(spawned, call: "posix_spawn", subject: path) }

        let deadline = ContinuousClock.now.advanced(by: timeout)
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        var failure: SystemError?
        reading: while true {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else {
                failure = SystemError(code: .ioFailure, call: path, detail: "no answer within \(timeout); killed")
                break
            }
            var descriptor = pollfd(fd: pipe[0], events: Int16(POLLIN), revents: 0)
            let milliseconds = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000
            let ready = poll(&descriptor, 1, Int32(clamping: max(milliseconds, 1)))
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { continue }  // timed out: the deadline check above decides
            let count = read(pipe[0], &buffer, buffer.count)
            if count < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            if count < 0 {
                failure = SystemError.errno(errno, call: "read", subject: path)
                break reading
            }
            if count == 0 { break }
            output += buffer.prefix(count)
            if output.count > limit {
                failure = SystemError(code: .tooLarge, call: path, detail: "output larger than \(limit) bytes")
                break
            }
        }
        // Standard output is closed; wait for the exit until the deadline, then kill.
        var status: Int32 = 0
        while failure == nil {
            let waited = waitpid(pid, &status, WNOHANG)
            if waited == pid { break }
            if waited < 0 && errno != EINTR { throw SystemError.errno(errno, call: "waitpid", subject: path) }
            if ContinuousClock.now >= deadline {
                failure = SystemError(code: .ioFailure, call: path, detail: "did not exit within \(timeout); killed")
            } else {
                usleep(1000)
            }
        }
        if let failure {
            kill(pid, SIGKILL)
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            throw failure
        }
        // WIFEXITED / WEXITSTATUS, which Swift does not import as macros.
        let exited = status & 0x7f == 0
        return (exited ? (status >> 8) & 0xff : nil, String(decoding: output, as: UTF8.self))
    }
}
