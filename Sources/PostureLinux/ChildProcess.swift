#if canImport(Glibc)
    import Glibc
#endif

/// Runs a helper program (usermod, wall, passwd) with posix_spawn and waits for it. Foundation's `Process`
/// would do, but lives outside FoundationEssentials and would link ICU's 34 MB into the agent.
public enum ChildProcess {
    /// The exit status (nil when it could not start or was killed by a signal), and what it printed on
    /// standard output when `captureOutput` is set. Standard input and error are /dev/null.
    public static func run(_ arguments: [String], captureOutput: Bool = false) -> (status: Int32?, output: String) {
        guard let path = arguments.first else { return (nil, "") }
        var pipe: [Int32] = [-1, -1]
        if captureOutput { guard Glibc.pipe(&pipe) == 0 else { return (nil, "") } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        if captureOutput {
            posix_spawn_file_actions_adddup2(&actions, pipe[1], 1)
            posix_spawn_file_actions_addclose(&actions, pipe[0])
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, environ)
        var output: [UInt8] = []
        if captureOutput {
            close(pipe[1])
            if spawned == 0 {
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let count = read(pipe[0], &buffer, buffer.count)
                    if count < 0 && errno == EINTR { continue }
                    if count <= 0 { break }
                    output += buffer.prefix(count)
                }
            }
            close(pipe[0])
        }
        guard spawned == 0 else { return (nil, "") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS, which Swift does not import as macros.
        let exited = status & 0x7f == 0
        return (exited ? (status >> 8) & 0xff : nil, String(decoding: output, as: UTF8.self))
    }
}
