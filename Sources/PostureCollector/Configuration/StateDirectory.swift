#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The collector's state directory: mode 0700, so a key file is never reachable by others even before
/// its own mode is set.
enum StateDirectory {
    static func prepare(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: path)
        } catch {
            throw CollectorError(.configuration, "cannot create the state directory \(path) (stateDirectory): \(error)")
        }
    }

    /// Bytes available to this user on the filesystem holding `path` (or its directory); nil if unknown.
    static func freeBytes(_ path: String) -> Int? {
        var info = statvfs()
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        guard statvfs(FileManager.default.fileExists(atPath: path) ? path : directory, &info) == 0 else { return nil }
        return Int(info.f_bavail) * Int(info.f_frsize)
    }

    /// Writes atomically (temporary file, rename) with `mode`.
    static func write(_ text: String, to path: String, mode: Int) throws {
        try write(data: Data(text.utf8), to: path, mode: mode)
    }

    static func write(data: Data, to path: String, mode: Int) throws {
        let temporary = path + ".tmp"
        do {
            // Created empty with its mode first, so a key's bytes never sit in a file others could read.
            try? FileManager.default.removeItem(atPath: temporary)
            guard
                FileManager.default.createFile(atPath: temporary, contents: nil, attributes: [.posixPermissions: mode])
            else {
                throw CollectorError(
                    .configuration, "cannot create \(temporary); check the state directory's owner and permissions")
            }
            try data.write(to: URL(fileURLWithPath: temporary))
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: temporary)
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: temporary, toPath: path)
        } catch let error as CollectorError {
            throw error
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw CollectorError(.configuration, "cannot write \(path) (is the disk full? df \(path)): \(error)")
        }
    }
}
