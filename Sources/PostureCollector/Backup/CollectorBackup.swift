import PostureStore
import PostureStoreSQLite

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `posture-collector backup --to FILE`: a consistent copy of everything a collector is, taken while it
/// serves. The store is copied with SQLite's `VACUUM INTO` (one read transaction: a snapshot, and writers
/// are not blocked), the CA, the signing keys and their schedule as they are on disk; all in one ustar
/// archive, mode 0600, restored with `tar -xf FILE -C STATE_DIRECTORY` (README "Backup and restore").
public enum CollectorBackup {
    /// The state directory's files that are the collector's identity (besides the store).
    static func identityFiles(_ directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { name in
            name == "ca.crt" || name == "ca.key" || name == Keyring.fileName
                || (name.hasSuffix(".key") && (name.hasPrefix("verdict-es256") || name.hasPrefix("set-rs256")))
        }.sorted()
    }

    /// Writes the archive to `path` (atomically, 0600); returns what it holds.
    @discardableResult
    public static func write(_ configuration: CollectorConfiguration, to path: String, now: Date = Date()) async throws
        -> [String]
    {
        guard configuration.storage.driver == "sqlite" else {
            throw CollectorError(
                .configuration,
                "backup copies the embedded SQLite store; with storage.driver postgresql, back the database up with "
                    + "PostgreSQL's own tools (pg_dump, or your base backups) and copy the state directory's "
                    + "ca.crt, ca.key and key files from one collector")
        }
        let store = try Collector.openSQLite(configuration)
        let snapshot = path + ".store-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: snapshot) }
        do {
            try await store.snapshot(to: snapshot)
        } catch {
            throw CollectorError(
                .storage, "cannot copy the store \(configuration.sqlitePath) to \(snapshot) (disk space? df): \(error)")
        }
        var members = [
            TarArchive.Member(
                name: "collector.sqlite", mode: 0o600, contents: try Data(contentsOf: URL(fileURLWithPath: snapshot)),
                modified: now)
        ]
        for name in identityFiles(configuration.stateDirectory) {
            let file = configuration.stateDirectory + "/" + name
            members.append(
                TarArchive.Member(
                    name: name, mode: name.hasSuffix(".crt") ? 0o644 : 0o600,
                    contents: try Data(contentsOf: URL(fileURLWithPath: file)), modified: now))
        }
        if configuration.ca.certificate != nil {
            // The operator's CA lives outside the state directory: back it up with the operator's PKI.
            members.removeAll { $0.name == "ca.crt" || $0.name == "ca.key" }
        }
        try StateDirectory.write(data: try TarArchive.encode(members), to: path, mode: 0o600)
        return members.map(\.name)
    }
}
