#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Files that survive a crash: written to a temporary name, fsync'd, renamed into place, and the directory
/// fsync'd, so a reader sees the old content or the new, never a torn write. Mode is set at creation, so a
/// key is never readable by others, not even for an instant.
public enum DurableFile {
    /// Replaces `path` with `bytes`, creating it with `mode` (e.g. 0o600 for keys).
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws(SystemError) {
        let temporary = path + ".tmp-\(getpid())"
        let fd = try Int32(
            retryingEINTR("open", subject: temporary) {
                Int(open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode))
            })
        do throws(SystemError) {
            _ = try retryingEINTR("fchmod", subject: temporary) { Int(fchmod(fd, mode)) }
            var written = 0
            while written < bytes.count {
                let count = bytes[written...].withUnsafeBytes { buffer in
                    Glibc.write(fd, buffer.baseAddress, buffer.count)
                }
                if count < 0 {
                    if errno == EINTR { continue }
                    throw SystemError.errno(errno, call: "write", subject: temporary)
                }
                written += count
            }
            _ = try retryingEINTR("fsync", subject: temporary) { Int(fsync(fd)) }
            close(fd)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        _ = try retryingEINTR("rename", subject: path) { Int(rename(temporary, path)) }
        try syncDirectory(of: path)
    }

    /// The file's bytes, or nil when it does not exist.
    public static func read(_ path: String, limit: Int = 16 << 20) throws(SystemError) -> [UInt8]? {
        do {
            return try PlainFile.readBytes(path, limit: limit)
        } catch let error where error.code == .notFound {
            return nil
        }
    }

    /// Removes `path` (missing is fine) and makes the removal durable.
    public static func remove(_ path: String) throws(SystemError) {
        if unlink(path) != 0 {
            let code = errno
            if code == ENOENT { return }
            throw SystemError.errno(code, call: "unlink", subject: path)
        }
        try syncDirectory(of: path)
    }

    /// Renames `from` to `to` durably.
    public static func move(_ from: String, to: String) throws(SystemError) {
        _ = try retryingEINTR("rename", subject: from) { Int(rename(from, to)) }
        try syncDirectory(of: to)
    }

    /// Creates `path` and missing parents with `mode`; an existing directory gets `mode` too.
    public static func makeDirectory(_ path: String, mode: mode_t = 0o700) throws(SystemError) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, mode) != 0 {
                let code = errno
                if code != EEXIST { throw SystemError.errno(code, call: "mkdir", subject: current) }
            }
        }
        _ = try retryingEINTR("chmod", subject: path) { Int(chmod(path, mode)) }
    }

    /// File names in `path`, sorted; empty when the directory does not exist.
    public static func list(_ path: String) throws(SystemError) -> [String] {
        do {
            return try PlainFile.names(in: path)
        } catch let error where error.code == .notFound {
            return []
        }
    }

    /// The permission bits and owner of `path`.
    public static func permissions(_ path: String) throws(SystemError) -> (mode: mode_t, uid: uid_t) {
        var info = stat()
        _ = try retryingEINTR("stat", subject: path) { Int(stat(path, &info)) }
        return (info.st_mode & 0o7777, info.st_uid)
    }

    public static func syncDirectory(of path: String) throws(SystemError) {
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let fd = try Int32(
            retryingEINTR("open", subject: directory) {
                Int(open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC))
            })
        defer { close(fd) }
        _ = try retryingEINTR("fsync", subject: directory) { Int(fsync(fd)) }
    }
}

/// This host's name, as `gethostname(2)` reports it.
public func currentHostname() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count - 1) == 0 else { return "" }
    return String(cString: buffer)
}

/// Reading a file or a directory as it is, with a bound: what `DurableFile` and `HostRoot` read with.
public enum PlainFile {
    /// The file's bytes; `tooLarge` past `limit`, `notFound` when it does not exist.
    public static func readBytes(_ path: String, limit: Int) throws(SystemError) -> [UInt8] {
        let fd = try retryingEINTR("open", subject: path) { Int(open(path, O_RDONLY | O_CLOEXEC)) }
        defer { close(Int32(fd)) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        while true {
            let count = try retryingEINTR("read", subject: path) {
                chunk.withUnsafeMutableBytes { read(Int32(fd), $0.baseAddress, $0.count) }
            }
            if count == 0 { break }
            result.append(contentsOf: chunk[0..<count])
            if result.count > limit {
                throw SystemError(code: .tooLarge, call: "read", subject: path, detail: "larger than \(limit) bytes")
            }
        }
        return result
    }

    /// Names in a directory, without `.` and `..`, sorted.
    public static func names(in path: String) throws(SystemError) -> [String] {
        guard let dir = opendir(path) else { throw SystemError.errno(errno, call: "opendir", subject: path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}
