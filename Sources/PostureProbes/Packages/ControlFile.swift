import PostureLinux

/// Debian control files as dpkg's status (deb-status(5)) and apt's Packages lists write them: stanzas of
/// `Field: value` lines separated by a blank line. Only the four fields this probe reads are kept.
enum ControlFile {
    struct Stanza {
        var package: String?
        var version: String?
        var architecture: String?
        var status: String?
    }

    /// Calls `body` with each stanza that names a package. A stanza whose `Package` is not `wanted` is
    /// skipped after that line, its fields unread (most of a 50 MB list, where only installed names count).
    static func forEachStanza(
        _ path: String, limit: Int = 1 << 30, reading wanted: (String) -> Bool = { _ in true },
        _ body: (Stanza) -> Void
    ) throws(SystemError) {
        var stanza = Stanza()
        var skipping = false
        try IndexFileReader.forEachLine(path, limit: limit) { line in
            guard let first = line.first else {
                if !skipping, stanza.package != nil { body(stanza) }
                (stanza, skipping) = (Stanza(), false)
                return
            }
            if skipping { return }
            switch first {
            case UInt8(ascii: "P"):
                guard let value = value(line, "Package: ") else { return }
                stanza.package = value
                skipping = !wanted(value)
            case UInt8(ascii: "V"): if let value = value(line, "Version: ") { stanza.version = value }
            case UInt8(ascii: "A"): if let value = value(line, "Architecture: ") { stanza.architecture = value }
            case UInt8(ascii: "S"): if let value = value(line, "Status: ") { stanza.status = value }
            default: return
            }
        }
        if !skipping, stanza.package != nil { body(stanza) }
    }

    /// The value of a `Field: value` line when the line starts with `field`.
    static func value(_ line: UnsafeBufferPointer<UInt8>, _ field: StaticString) -> String? {
        let count = field.utf8CodeUnitCount
        guard line.count > count else { return nil }
        let prefix = UnsafeBufferPointer(start: field.utf8Start, count: count)
        for index in 0..<count where line[index] != prefix[index] { return nil }
        var end = line.count
        while end > count && (line[end - 1] == UInt8(ascii: " ") || line[end - 1] == UInt8(ascii: "\r")) { end -= 1 }
        return String(decoding: UnsafeBufferPointer(rebasing: line[count..<end]), as: UTF8.self)
    }
}

/// dpkg's record of what is installed (`/var/lib/dpkg/status`).
struct DpkgStatus {
    struct Package {
        var name: String
        /// As dpkg's stanza names it, for the report (`all` stays `all`).
        var architecture: String
        var version: String
    }

    /// `name:arch` → every package whose status is `installed`; `Architecture: all` is keyed as the
    /// native architecture, as apt treats it (a package may move between `all` and `amd64`).
    var installed: [String: Package] = [:]
    var names: Set<String> = []
    /// dpkg's own architecture: the native one.
    var native = ""

    func key(_ name: String, _ architecture: String) -> String {
        "\(name):\(architecture == "all" ? native : architecture)"
    }

    static func read(_ path: String) throws(SystemError) -> DpkgStatus {
        var packages: [Package] = []
        try ControlFile.forEachStanza(path, limit: 256 << 20) { stanza in
            // "want flag status": only the last word says what is on disk.
            guard stanza.status?.split(separator: " ").last == "installed", let name = stanza.package,
                let version = stanza.version
            else { return }
            packages.append(Package(name: name, architecture: stanza.architecture ?? "all", version: version))
        }
        var status = DpkgStatus()
        // dpkg is always of the native architecture; failing that, the commonest one that is not `all`.
        let counts = Dictionary(
            packages.filter { $0.architecture != "all" }.map { ($0.architecture, 1) }, uniquingKeysWith: +)
        status.native =
            packages.first { $0.name == "dpkg" }?.architecture
            ?? counts.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key ?? "all"
        for package in packages {
            status.installed[status.key(package.name, package.architecture)] = package
            status.names.insert(package.name)
        }
        return status
    }
}
