import PostureLinux
import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One archive apt knows from its lists: a Release (or InRelease) file and what it says of itself.
struct AptRelease: Equatable {
    /// The list files' common prefix (`deb.debian.org_debian-security_dists_bookworm-security_`).
    var prefix: String
    var fields: [String: String]
    var date: Date?

    /// apt's default pin priority (apt_preferences(5)): 1 for NotAutomatic archives (experimental),
    /// 100 when they also say ButAutomaticUpgrades (backports), 500 otherwise. Pins in
    /// /etc/apt/preferences are not applied (the probe README says so).
    var priority: Int {
        guard fields["NotAutomatic"] == "yes" else { return 500 }
        return fields["ButAutomaticUpgrades"] == "yes" ? 100 : 1
    }

    /// A security archive: Debian's `Label: Debian-Security`, a `*-security` suite or codename (Debian,
    /// Ubuntu), or Debian's older `*/updates` security suites.
    var isSecurity: Bool {
        if fields["Label"]?.lowercased().contains("security") == true { return true }
        return [fields["Suite"], fields["Codename"]].contains { name in
            guard let name else { return false }
            return name.hasSuffix("-security") || name.hasSuffix("/updates")
        }
    }

    /// The archive as a person names it: its label and the more specific of codename and suite
    /// (`Debian-Security bookworm-security`, whose suite is `oldstable-security`; `Ubuntu noble-security`,
    /// whose codename is `noble`).
    var name: String {
        let codename = fields["Codename"]
        let suite = fields["Suite"]
        let specific = [codename, suite].first { $0?.contains("-") == true } ?? codename ?? suite
        return [fields["Label"] ?? fields["Origin"], specific].compactMap { $0 }.joined(separator: " ")
    }

    /// The fields of a Release file; an InRelease file's clear-signed wrapper is skipped. Its signature
    /// is apt's to check when it fetched the file (the probe README says why that is enough here).
    static func parse(_ text: String, prefix: String) -> AptRelease {
        var fields: [String: String] = [:]
        var inHeader = text.hasPrefix("-----BEGIN PGP SIGNED MESSAGE-----")
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if inHeader {
                if line.isEmpty { inHeader = false }
                continue
            }
            if line.hasPrefix("-----BEGIN PGP SIGNATURE-----") { break }
            // Only the single-line fields at the top matter; the checksum lists are continuation lines.
            if line.first == " " || line.first == "\t" { continue }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = String(line[line.index(after: colon)...]).trimmingWhitespace()
            fields[String(line[..<colon])] = value
        }
        return AptRelease(prefix: prefix, fields: fields, date: fields["Date"].flatMap(RFC2822Date.parse))
    }
}

/// The versions apt's lists offer of the installed packages, and which archives offer them.
struct AptOffers {
    /// `name:arch` (`all` as the native architecture) → version → the archives (indexes into `releases`).
    var offers: [String: [String: [Int]]] = [:]

    /// Reads one Packages list, keeping the versions of installed packages; the other names' stanzas are
    /// skipped after their `Package` line (most of a 50 MB list).
    mutating func read(_ path: String, release: Int, status: DpkgStatus) throws(SystemError) {
        try ControlFile.forEachStanza(path, reading: status.names.contains) { stanza in
            guard let name = stanza.package, let version = stanza.version, let architecture = stanza.architecture
            else { return }
            let key = status.key(name, architecture)
            if status.installed[key] != nil { offers[key, default: [:]][version, default: []].append(release) }
        }
    }

    /// apt's candidate for an installed package (apt-pkg's policy): from the newest version down, the
    /// first with the highest priority, looking no further than the installed version (a pin below 1000
    /// never downgrades). The installed version's priority is at least 100 (dpkg's status).
    func candidate(_ key: String, installed: String, releases: [AptRelease]) -> (version: String, releases: [Int])? {
        guard let versions = offers[key] else { return nil }
        var all = versions
        all[installed, default: []] += []
        var best: (version: String, releases: [Int], priority: Int)?
        for version in all.keys.sorted(by: { DebianVersion.compare($0, $1) > 0 }) {
            let from = all[version] ?? []
            var priority = from.map { releases[$0].priority }.max() ?? 0
            if version == installed { priority = max(priority, 100) }
            if priority > (best?.priority ?? Int.min) { best = (version, from, priority) }
            if version == installed { break }
        }
        return best.map { ($0.version, $0.releases) }
    }

    /// The oldest security fix the host lacks: a version a security archive offers above the installed
    /// one and no newer than the candidate (as unattended-upgrades reads it). A newer ordinary update
    /// that supersedes the fix (Ubuntu's -updates, a Debian point release) leaves the host as exposed.
    func securityFix(_ key: String, installed: String, candidate: String, releases: [AptRelease])
        -> (version: String, archive: AptRelease)?
    {
        var oldest: (version: String, archive: AptRelease)?
        for (version, from) in offers[key] ?? [:]
        where DebianVersion.compare(version, installed) > 0 && DebianVersion.compare(version, candidate) <= 0 {
            guard let archive = from.map({ releases[$0] }).first(where: \.isSecurity) else { continue }
            if oldest.map({ DebianVersion.compare(version, $0.version) < 0 }) ?? true { oldest = (version, archive) }
        }
        return oldest
    }
}

/// Release files' `Date: Sat, 11 Jul 2026 10:16:37 UTC` (RFC 2822, as apt writes and reads it).
enum RFC2822Date {
    static func parse(_ text: String) -> Date? {
        let words = text.split(separator: " ").map(String.init)
        // An optional weekday ("Sat,"), then day, month, year, time, zone.
        let fields = words.first?.hasSuffix(",") == true ? Array(words.dropFirst()) : words
        guard fields.count == 5, let day = Int(fields[0]), let year = Int(fields[2]),
            let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
                .firstIndex(of: fields[1])
        else { return nil }
        let time = fields[3].split(separator: ":").compactMap { Int($0) }
        guard time.count == 3, ["UTC", "GMT", "+0000", "Z"].contains(fields[4]), (1...31).contains(day),
            (1970...9999).contains(year), (0...23).contains(time[0]), (0...59).contains(time[1]),
            (0...60).contains(time[2])
        else { return nil }
        let days = Timestamp.daysSinceEpoch(year: Int64(year), month: Int64(month + 1), day: Int64(day))
        return Date(timeIntervalSince1970: Double(Int(days) * 86400 + time[0] * 3600 + time[1] * 60 + time[2]))
    }
}
