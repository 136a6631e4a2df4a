#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// What posturectl needs to talk to the agent on its unix socket and to run a tool in the foreground.
public enum LocalExchange {
    /// Sends `request` and a newline on the unix socket at `path`, and returns the first line answered
    /// (at most `limit` bytes), waiting at most `timeout` seconds for it.
    public static func ask(socket path: String, request: [UInt8], timeout: Int = 60, limit: Int = 1 << 20)
        throws(SystemError) -> [UInt8]
    {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError.errno(errno, call: "socket") }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw SystemError(code: .malformed, call: "connect", subject: path, detail: "socket path too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else { throw SystemError.errno(errno, call: "connect", subject: path) }
        var wait = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        let message = request + [0x0A]
        var sent = 0
        while sent < message.count {
            let count = message[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw SystemError.errno(errno, call: "send", subject: path) }
            sent += count
        }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        while answer.count <= limit {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw SystemError.errno(errno, call: "recv", subject: path) }
            if count == 0 { break }
            answer += buffer[..<count]
            if let end = answer.firstIndex(of: 0x0A) { return Array(answer[..<end]) }
        }
        return answer
    }

    /// Runs `arguments` (looked up in PATH) with this process's terminal, environment and standard
    /// descriptors, so a tool may ask for a passphrase; returns its exit status (128 + signal if killed).
    public static func runInForeground(_ arguments: [String]) throws(SystemError) -> Int32 {
        guard let program = arguments.first else { throw SystemError(code: .malformed, call: "posix_spawnp") }
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, program, nil, nil, argv, environ)
        guard spawned == 0 else { throw SystemError.errno(spawned, call: "posix_spawnp", subject: program) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw SystemError.errno(errno, call: "waitpid", subject: program) }
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift does not import.
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}

/// Names from the user database (NSS: files, LDAP, SSSD).
public enum UserDatabase {
    public static func name(uid: uid_t) -> String? { entry(uid).map { $0.name } }

    /// The home directory of `uid`, for `~/.ssh` when HOME is not set.
    public static func home(uid: uid_t) -> String? { entry(uid).map { $0.home } }

    public static func uid(name: String) -> uid_t? {
        var entry = passwd()
        var found: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16 << 10)
        guard getpwnam_r(name, &entry, &buffer, buffer.count, &found) == 0, found != nil else { return nil }
        return entry.pw_uid
    }

    private static func entry(_ uid: uid_t) -> (name: String, home: String)? {
        var entry = passwd()
        var found: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16 << 10)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &found) == 0, found != nil else { return nil }
        return (String(cString: entry.pw_name), String(cString: entry.pw_dir))
    }
}
