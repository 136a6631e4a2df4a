import PostureLinux
import Synchronization

/// rpm's database of installed packages, in the SQLite form rpm 4.16 and later keep (Fedora 33 and later,
/// RHEL 9 and later): `rpmdb.sqlite` under `/usr/lib/sysimage/rpm` (Fedora 36 and later) or `/var/lib/rpm`.
/// Read-only, through libsqlite3; the headers are parsed by `RpmHeader`.
struct RpmDatabase {
    var packages: [RpmHeader]

    enum Location: Equatable {
        /// `rpmdb.sqlite`: what this agent reads.
        case sqlite(String)
        /// Berkeley DB (`Packages`, RHEL 8 and older) or NDB (`Packages.db`, SUSE): not read, with the reason.
        case unsupported(path: String, reason: String)
        case none
    }

    static let directories = ["/usr/lib/sysimage/rpm", "/var/lib/rpm"]

    /// At most this many headers: a Fedora workstation has about 2,500 packages.
    static let packageLimit = 200_000

    static func locate(_ root: HostRoot) -> Location {
        for directory in directories where root.exists("\(directory)/rpmdb.sqlite") {
            return .sqlite("\(directory)/rpmdb.sqlite")
        }
        for directory in directories {
            if root.exists("\(directory)/Packages") {
                return .unsupported(
                    path: "\(directory)/Packages",
                    reason: "the rpm database is in Berkeley DB form (\(directory)/Packages: RHEL 8 and older); "
                        + "this agent reads rpm's SQLite database (rpmdb.sqlite: rpm 4.16 and later, RHEL 9, Fedora 33)"
                )
            }
            if root.exists("\(directory)/Packages.db") {
                return .unsupported(
                    path: "\(directory)/Packages.db",
                    reason: "the rpm database is in NDB form (\(directory)/Packages.db: SUSE); "
                        + "this agent reads rpm's SQLite database (rpmdb.sqlite: rpm 4.16 and later, RHEL 9, Fedora 33)"
                )
            }
        }
        return .none
    }

    /// Every installed package's header. One that does not parse makes the whole answer unavailable: rpm
    /// itself would refuse it, and what it hides could be the package that matters.
    static func read(_ root: HostRoot, path: String) throws -> RpmDatabase {
        var packages: [RpmHeader] = []
        var malformed: String?
        try SQLiteBlobReader.forEachBlob(
            root.hostPath(path), sql: "SELECT blob FROM Packages", limit: packageLimit
        ) { blob in
            do { packages.append(try RpmHeader.parse(blob)) } catch {
                if malformed == nil { malformed = "row \(packages.count + 1): \(error)" }
            }
        }
        if let malformed {
            throw ProbeError("\(path) holds a header rpm could not read (\(malformed)); `rpm --rebuilddb` rebuilds it")
        }
        return RpmDatabase(packages: packages)
    }

    /// The last read of each database, kept while its files are unchanged: the OS probe (reboot) and the patch
    /// probe both read it every report.
    private static let cache = Mutex<[String: (signature: [HostRoot.FileStatus?], database: RpmDatabase)]>([:])

    static func cachedRead(_ root: HostRoot, path: String) throws -> RpmDatabase {
        let key = root.hostPath(path)
        let signature = signaturePaths(path).map { try? root.status($0) }
        if let kept = cache.withLock({ $0[key] }), kept.signature == signature { return kept.database }
        let database = try read(root, path: path)
        cache.withLock { $0[key] = (signature, database) }
        return database
    }

    /// What `dnf needs-restarting -r` (dnf-plugins-core) takes an update of to need a reboot.
    static let needingReboot: Set<String> = [
        "kernel", "kernel-core", "kernel-rt", "glibc", "linux-firmware", "systemd", "dbus", "dbus-broker",
        "dbus-daemon", "microcode_ctl",
    ]

    /// The packages of `needingReboot` installed or updated after `boot` (seconds since the epoch).
    func updatedSince(boot: Int64) -> [String] {
        Set(installed.filter { Self.needingReboot.contains($0.name) && ($0.installTime ?? 0) > boot }.map(\.name))
            .sorted()
    }

    /// Real packages: rpm keeps imported signing keys as `gpg-pubkey` headers without an architecture.
    var installed: [RpmHeader] { packages.filter { !$0.architecture.isEmpty && $0.name != "gpg-pubkey" } }

    /// The files whose change means the database changed: the database and its write-ahead log.
    static func signaturePaths(_ path: String) -> [String] { [path, path + "-wal"] }
}
