#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The host's files, seen below a root directory: `/` on a live host, a fixture tree in tests and
/// forensics. Every path given to it is absolute as the host sees it (`/proc/self/mountinfo`); symlinks,
/// even absolute ones, resolve inside the root, as they would after chroot.
public struct HostRoot: Sendable, Equatable {
    public let path: String

    public init(_ path: String = "/") {
        var trimmed = path
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.path = trimmed
    }

    public var isLiveHost: Bool { path == "/" }

    /// The real filesystem path of a host path.
    public func hostPath(_ absolute: String) -> String {
        isLiveHost ? absolute : path + absolute
    }

    /// Reads a whole (small) file as UTF-8 text. Sysfs and procfs files report no useful size, so this
    /// reads until end of file, refusing more than `limit` bytes.
    public func readText(_ absolute: String, limit: Int = 4 << 20) throws(SystemError) -> String {
        let bytes = try readBytes(absolute, limit: limit)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Reads a sysfs-style one-line attribute, without its trailing newline.
    public func readAttribute(_ absolute: String) throws(SystemError) -> String {
        var text = try readText(absolute, limit: 64 << 10)
        while text.last == "\n" || text.last == " " { text.removeLast() }
        return text
    }

    public func readBytes(_ absolute: String, limit: Int = 4 << 20) throws(SystemError) -> [UInt8] {
        try PlainFile.readBytes(hostPath(absolute), limit: limit)
    }

    public func exists(_ absolute: String) -> Bool {
        access(hostPath(absolute), F_OK) == 0
    }

    /// The file's modification time, in seconds since 1970.
    public func modificationSeconds(_ absolute: String) throws(SystemError) -> Int64 {
        try status(absolute).modifiedNanoseconds / 1_000_000_000
    }

    /// What changes when a file is rewritten: inode, size and modification time (to the nanosecond).
    public struct FileStatus: Sendable, Hashable {
        public var inode: UInt64
        public var size: Int64
        public var modifiedNanoseconds: Int64
    }

    public func status(_ absolute: String) throws(SystemError) -> FileStatus {
        var info = stat()
        guard stat(hostPath(absolute), &info) == 0 else {
            throw SystemError.errno(errno, call: "stat", subject: hostPath(absolute))
        }
        return FileStatus(
            inode: UInt64(info.st_ino), size: Int64(info.st_size),
            modifiedNanoseconds: Int64(info.st_mtim.tv_sec) &* 1_000_000_000 &+ Int64(info.st_mtim.tv_nsec))
    }

    public func isDirectory(_ absolute: String) -> Bool {
        var info = stat()
        return stat(hostPath(absolute), &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Names in a directory, without `.` and `..`, sorted.
    public func contentsOfDirectory(_ absolute: String) throws(SystemError) -> [String] {
        try PlainFile.names(in: hostPath(absolute))
    }

    /// The target of a symlink, as stored.
    public func readLink(_ absolute: String) throws(SystemError) -> String {
        let real = hostPath(absolute)
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(real, &buffer, Int(PATH_MAX))
        if count < 0 { throw SystemError.errno(errno, call: "readlink", subject: real) }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Resolves every symlink in a host path, inside the root, and returns the canonical host path.
    public func canonicalPath(_ absolute: String) throws(SystemError) -> String {
        var pending = Self.components(absolute)
        var resolved: [String] = []
        var links = 0
        while !pending.isEmpty {
            let component = pending.removeFirst()
            if component == "." { continue }
            if component == ".." {
                if !resolved.isEmpty { resolved.removeLast() }
                continue
            }
            let candidate = "/" + (resolved + [component]).joined(separator: "/")
            var info = stat()
            guard lstat(hostPath(candidate), &info) == 0 else {
                throw SystemError.errno(errno, call: "lstat", subject: hostPath(candidate))
            }
            if (info.st_mode & S_IFMT) == S_IFLNK {
                links += 1
                if links > 40 { throw SystemError.errno(ELOOP, call: "readlink", subject: hostPath(candidate)) }
                let target = try readLink(candidate)
                if target.hasPrefix("/") { resolved = [] }
                pending = Self.components(target) + pending
            } else {
                resolved.append(component)
            }
        }
        return "/" + resolved.joined(separator: "/")
    }

    private static func components(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }
}
