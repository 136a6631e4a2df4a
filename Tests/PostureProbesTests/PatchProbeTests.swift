import Foundation
import PostureLinux
import PostureModel
import TestSupport
import Testing

@testable import PostureProbes

/// Patch level read from a real Debian 12 package database and real apt lists, checked against apt
/// itself run in the same tree.
@Suite(.serialized) struct PatchProbeTests {
    private static let bookworm = "deb http://deb.debian.org/debian bookworm main"
    private static let updates = """
        deb http://deb.debian.org/debian bookworm main
        deb http://deb.debian.org/debian bookworm-updates main
        deb http://deb.debian.org/debian-security bookworm-security main

        """

    private func collect(_ root: URL, remembered: [String: Date] = [:]) -> PatchFacts {
        PatchProbe().collect(in: ProbeContext(root: HostRoot(root.path), now: Date(), pendingSince: remembered))
    }

    /// `apt list --upgradable` in the tree: `name:arch` → (candidate, installed, suite).
    private func aptUpgradable(_ root: URL) throws -> [String: (candidate: String, installed: String, suite: String)] {
        let output = try Shell.run(["chroot", root.path, "apt", "list", "--upgradable"], timeout: 120).stdout
        var result: [String: (String, String, String)] = [:]
        // "zlib1g/oldstable-security 1:1.2.13.dfsg-1+deb12u1 amd64 [upgradable from: 1:1.2.13.dfsg-1]"
        for line in output.split(separator: "\n") where line.contains("[upgradable from: ") {
            let words = line.split(separator: " ").map(String.init)
            let nameSuite = words[0].split(separator: "/", maxSplits: 1).map(String.init)
            let installed = String(words[5].dropLast())
            result["\(nameSuite[0]):\(words[2])"] = (words[1], installed, nameSuite[1])
        }
        return result
    }

    @Test(Requirement.available(programs: ["mmdebstrap", "chroot", "lz4", "gzip"], root: true))
    func agreesWithAptInADebianTreeWithAndWithoutPendingUpdates() throws {
        let root = try Paths.temporaryDirectory("patch-tree").appendingPathComponent("root")
        let log = root.deletingLastPathComponent().appendingPathComponent("mmdebstrap.log").path
        let started = Date()
        let status = try DirectSpawn.run(
            [
                "mmdebstrap", "--variant=apt", "--skip=cleanup/apt/lists", "bookworm", root.path, Self.bookworm,
            ], logPath: log, timeout: 900)
        let tail = (try? String(contentsOfFile: log, encoding: .utf8))?.suffix(2000) ?? ""
        try #require(status == 0, "mmdebstrap failed: \(tail)")
        defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }

        // Only the point release's lists: what is installed came from them, so nothing is pending.
        let fresh = try #require(collect(root).packages.value, "\(collect(root).packages)")
        #expect(try aptUpgradable(root).isEmpty)
        #expect(fresh.pending == 0 && fresh.pendingSecurity == 0 && fresh.security.isEmpty)
        let dpkgQuery = try Shell.run(
            ["chroot", root.path, "dpkg-query", "-W", "-f", "${db:Status-Status} ${binary:Package}\\n"]
        ).stdout
        let installed = dpkgQuery.split(separator: "\n").filter { $0.hasPrefix("installed ") }.count
        #expect(fresh.installed == installed && installed > 50)
        #expect(fresh.manager == "dpkg" && fresh.securityArchives.isEmpty)
        let lastChange = try #require(fresh.lastChange)
        #expect(lastChange > started.addingTimeInterval(-5) && lastChange < Date().addingTimeInterval(5))
        let releaseDate = try Shell.run(
            [
                "sh", "-c",
                "date -d \"$(sed -n 's/^Date: //p' '\(root.path)'/var/lib/apt/lists/*_bookworm_InRelease)\" +%s",
            ]
        ).stdout
        #expect(
            fresh.listsUpdatedAt?.timeIntervalSince1970
                == Double(releaseDate.trimmingCharacters(in: .whitespacesAndNewlines)))

        // The security and updates archives' lists too: the tree is now behind.
        try Data(Self.updates.utf8).write(to: root.appendingPathComponent("etc/apt/sources.list"))
        try? FileManager.default.removeItem(at: root.appendingPathComponent("etc/resolv.conf"))
        try FileManager.default.copyItem(
            atPath: "/etc/resolv.conf", toPath: root.appendingPathComponent("etc/resolv.conf").path)
        try Shell.run(["chroot", root.path, "apt-get", "update", "-q"], timeout: 300)
        let oracle = try aptUpgradable(root)
        let behind = try #require(collect(root).packages.value)
        #expect(!oracle.isEmpty, "bookworm-security always has updates for a minimal tree (apt, libc, perl, …)")
        #expect(behind.pending == oracle.count)
        // Security: every update apt takes from the security archive, and any whose candidate is a newer
        // ordinary update superseding a security fix (listed by apt from that other suite).
        let securityOracle = oracle.filter { $0.value.suite.hasSuffix("-security") }
        #expect(behind.securityArchives == ["Debian-Security bookworm-security"])
        #expect(behind.security.count == min(behind.pendingSecurity, PackageUpdates.reportedLimit))
        #expect(behind.pendingSecurity >= securityOracle.count)
        for update in behind.security {
            let expected = try #require(oracle["\(update.package):\(update.architecture)"], "\(update.package)")
            #expect(update.candidate == expected.candidate && update.installed == expected.installed)
            #expect(update.origin == "Debian-Security bookworm-security")
        }
        for name in securityOracle.keys where behind.pendingSecurity <= PackageUpdates.reportedLimit {
            #expect(behind.security.contains { "\($0.package):\($0.architecture)" == name }, "\(name)")
        }
        // apt-get -s upgrade's Inst lines name the archive: each security one is listed, at its version.
        let simulated = try Shell.run(["chroot", root.path, "apt-get", "-s", "upgrade"], timeout: 120).stdout
        let inst = simulated.split(separator: "\n").filter { $0.hasPrefix("Inst ") }
        #expect(!inst.isEmpty && inst.count <= behind.pending)
        for line in inst where line.contains("Debian-Security:") {
            // "Inst zlib1g [1:1.2.13.dfsg-1] (1:1.2.13.dfsg-1+deb12u1 Debian-Security:12/oldstable-security [amd64])"
            let words = line.split(separator: " ").map(String.init)
            let version = String(words[3].dropFirst())
            #expect(behind.security.contains { $0.package == words[1] && $0.candidate == version }, "\(line)")
        }
        let listsDate = try #require(behind.listsUpdatedAt)
        #expect(behind.security.allSatisfy { $0.since <= listsDate })

        // A remembered first sighting wins over the lists' date; the rest keep theirs.
        let first = try #require(behind.security.first)
        let seen = Date(timeIntervalSince1970: 1_700_000_000)
        let remembered = try #require(collect(root, remembered: [first.key: seen]).packages.value)
        #expect(remembered.security.first?.since == seen && remembered.security.first?.package == first.package)
        #expect(remembered.security.dropFirst().map(\.since) == behind.security.dropFirst().map(\.since))

        // The same lists LZ4-compressed, as Debian's container images keep them, give the same answer.
        let lists = root.appendingPathComponent("var/lib/apt/lists")
        for name in try FileManager.default.contentsOfDirectory(atPath: lists.path) where name.hasSuffix("_Packages") {
            let list = lists.appendingPathComponent(name).path
            try Shell.run(["lz4", "-q", "--rm", list, list + ".lz4"])
        }
        #expect(collect(root).packages.value == behind)
        // gzip (Acquire::GzipIndexes with gz) too; a compression the agent does not read (bzip2) is named,
        // not skipped (the counts would be wrong).
        let security = try #require(
            try FileManager.default.contentsOfDirectory(atPath: lists.path).first {
                $0.contains("security") && $0.hasSuffix("_Packages.lz4")
            })
        let compressed = lists.appendingPathComponent(security).path
        let plain = String(compressed.dropLast(4))
        try Shell.run(["lz4", "-d", "-q", "--rm", compressed, plain])
        try Shell.run(["gzip", plain])
        #expect(collect(root).packages.value == behind)
        try FileManager.default.moveItem(atPath: plain + ".gz", toPath: plain + ".bz2")
        let unreadable = collect(root).packages
        #expect(unreadable.value == nil)
        #expect(unreadable.unavailableReason?.contains(String(security.dropLast(4)) + ".bz2") == true)
    }

    /// The answer is kept between reports only while the files are the same: a rewritten list or status
    /// is read again, even at the same size within the same second.
    @Test func aRewrittenListOrStatusIsReadAgain() throws {
        let fixture = try FixtureTree("patch-cache")
        let root = fixture.root
        let write = fixture.write
        let status = "Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.1-1\n\n"
        let lists = "/var/lib/apt/lists/deb.example_debian-security_dists_s_"
        try write("/var/lib/dpkg/status", status)
        try write(lists + "InRelease", "Label: Debian-Security\nCodename: s\nDate: Sat, 11 Jul 2026 10:16:37 UTC\n")
        try write(lists + "main_binary-amd64_Packages", "Package: openssl\nVersion: 3.0.2-1\nArchitecture: amd64\n\n")
        func packages() throws -> PackageUpdates {
            try #require(
                PatchProbe().collect(in: ProbeContext(root: HostRoot(root.path), now: Date())).packages.value)
        }
        #expect(try packages().security.map(\.candidate) == ["3.0.2-1"])
        try write(lists + "main_binary-amd64_Packages", "Package: openssl\nVersion: 3.0.3-1\nArchitecture: amd64\n\n")
        #expect(try packages().security.map(\.candidate) == ["3.0.3-1"])
        // A newer fix superseding the pending one keeps the wait the agent remembers for this installed version.
        let seen = Date(timeIntervalSince1970: 1_700_000_000)
        let remembered = PatchProbe().collect(
            in: ProbeContext(root: HostRoot(root.path), now: Date(), pendingSince: ["openssl:amd64=3.0.1-1": seen]))
        #expect(remembered.packages.value?.security.map(\.since) == [seen])
        try write("/var/lib/dpkg/status", status.replacingOccurrences(of: "3.0.1-1", with: "3.0.3-1"))
        let upgraded = try packages()
        #expect(upgraded.pending == 0 && upgraded.security.isEmpty && upgraded.installed == 1)
    }

    /// A security fix superseded by a newer ordinary update (Ubuntu's -updates) is still a pending security
    /// fix; a package that moved from `Architecture: all` to the native one is still the same package.
    @Test func supersededFixesAndArchitectureAllStillCount() throws {
        let fixture = try FixtureTree("patch-superseded")
        let root = fixture.root
        let write = fixture.write
        try write(
            "/var/lib/dpkg/status",
            """
            Package: dpkg
            Status: install ok installed
            Architecture: amd64
            Version: 1.22.6ubuntu6

            Package: libfoo1
            Status: install ok installed
            Architecture: amd64
            Version: 1.0-1

            Package: foo-data
            Status: install ok installed
            Architecture: all
            Version: 2.0-1

            """)
        let lists = "/var/lib/apt/lists/archive.ubuntu.com_ubuntu_dists_noble-"
        try write(
            lists + "security_InRelease", "Origin: Ubuntu\nLabel: Ubuntu\nSuite: noble-security\nCodename: noble\n")
        try write(
            lists + "security_main_binary-amd64_Packages",
            "Package: libfoo1\nArchitecture: amd64\nVersion: 1.0-1ubuntu0.1\n\nPackage: foo-data\nArchitecture: amd64\nVersion: 2.0-1ubuntu0.1\n"
        )
        try write(lists + "updates_InRelease", "Origin: Ubuntu\nLabel: Ubuntu\nSuite: noble-updates\nCodename: noble\n")
        try write(
            lists + "updates_main_binary-amd64_Packages",
            "Package: libfoo1\nArchitecture: amd64\nVersion: 1.0-1ubuntu0.2\n\n")
        let packages = try #require(
            PatchProbe().collect(in: ProbeContext(root: HostRoot(root.path), now: Date())).packages.value)
        #expect(packages.installed == 3 && packages.pending == 2 && packages.pendingSecurity == 2)
        let foo = try #require(packages.security.first { $0.package == "libfoo1" })
        #expect(foo.candidate == "1.0-1ubuntu0.2" && foo.origin == "Ubuntu noble-security")
        let data = try #require(packages.security.first { $0.package == "foo-data" })
        #expect(data.architecture == "all" && data.candidate == "2.0-1ubuntu0.1")
        #expect(packages.securityArchives == ["Ubuntu noble-security"])
    }

    /// A stale host: all its pending security updates counted, the 64 oldest listed (what deadlines look at),
    /// the agent's memory deciding which are oldest.
    @Test func aStaleHostListsItsOldestPendingUpdatesAndCountsThemAll() throws {
        let fixture = try FixtureTree("patch-stale")
        let names = (0..<100).map { String(format: "lib%03d", $0) }
        try fixture.write(
            "/var/lib/dpkg/status",
            names.map { "Package: \($0)\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-1\n" }
                .joined(separator: "\n") + "\n")
        let lists = "/var/lib/apt/lists/deb.debian.org_debian-security_dists_bookworm-security_"
        try fixture.write(
            lists + "InRelease",
            "Origin: Debian\nLabel: Debian-Security\nSuite: stable-security\nCodename: bookworm-security\n"
                + "Date: Sat, 11 Jul 2026 10:16:37 UTC\n")
        try fixture.write(
            lists + "main_binary-amd64_Packages",
            names.map { "Package: \($0)\nArchitecture: amd64\nVersion: 1.0-1+deb12u1\n" }.joined(separator: "\n"))
        // The agent saw the last 70 offered long before the lists' date: those are the oldest.
        let seen = Date(timeIntervalSince1970: 1_700_000_000)
        var remembered: [String: Date] = [:]
        for (index, name) in names.enumerated() where index >= 30 {
            remembered["\(name):amd64=1.0-1"] = seen.addingTimeInterval(Double(index))
        }
        let packages = try #require(
            PatchProbe().collect(
                in: ProbeContext(root: HostRoot(fixture.root.path), now: Date(), pendingSince: remembered)
            )
            .packages.value)
        #expect(packages.pendingSecurity == 100 && packages.pending == 100)
        #expect(packages.security.count == PackageUpdates.reportedLimit)
        #expect(packages.security.map(\.package) == Array(names[30..<(30 + PackageUpdates.reportedLimit)]))
        #expect(packages.oldestSecuritySince == seen.addingTimeInterval(30))
    }

    @Test func kernelIsCurrentUnlessANewerOneIsInstalled() throws {
        let fixture = try FixtureTree("patch-kernel")
        let root = fixture.root
        let write = fixture.write
        let host = HostRoot(root.path)
        try write("/proc/sys/kernel/osrelease", "6.1.0-25-amd64\n")
        #expect(PatchProbe().collect(in: ProbeContext(root: host, now: Date())).kernel.value == nil)
        try write("/lib/modules/6.1.0-25-amd64/modules.dep", "")
        try write("/lib/modules/6.1.0-9-amd64/modules.dep", "")
        let current = PatchProbe().collect(in: ProbeContext(root: host, now: Date())).kernel.value
        #expect(current == RunningKernel(running: "6.1.0-25-amd64", newestInstalled: "6.1.0-25-amd64", current: true))
        // A directory without modules.dep is a removed kernel's leftovers, not an installed kernel.
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("lib/modules/6.1.0-99-amd64"), withIntermediateDirectories: true)
        try write("/lib/modules/6.1.0-27-amd64/modules.dep", "")
        // Another flavour is not newer than the running one, whatever its number.
        try write("/lib/modules/6.1.0-30-rt-amd64/modules.dep", "")
        let behind = PatchProbe().collect(in: ProbeContext(root: host, now: Date())).kernel.value
        #expect(behind == RunningKernel(running: "6.1.0-25-amd64", newestInstalled: "6.1.0-27-amd64", current: false))
        #expect(
            KernelRelease.flavour("6.1.0-27-686-pae") == "686-pae"
                && KernelRelease.flavour("6.5.0-1-generic") == "generic")
        // rpm-built kernels: the distribution tag changes with each update; the architecture is the flavour.
        #expect(
            KernelRelease.flavour("5.14.0-427.13.1.el9_4.x86_64")
                == KernelRelease.flavour("5.14.0-362.8.1.el9_3.x86_64"))
        #expect(KernelRelease.flavour("6.11.4-301.fc41.x86_64+debug") == "x86_64+debug")
        #expect(KernelRelease.isOrderedBefore("5.14.0-362.8.1.el9_3.x86_64", "5.14.0-427.13.1.el9_4.x86_64"))
        // No package database at all, and rpm's older Berkeley DB: each named as such.
        let none = PatchProbe().collect(in: ProbeContext(root: host, now: Date())).packages
        #expect(none.unavailableReason?.contains("no package database") == true)
        try write("/var/lib/rpm/Packages", "")
        let rpm = PatchProbe().collect(in: ProbeContext(root: host, now: Date())).packages
        #expect(rpm.unavailableReason?.contains("Berkeley DB") == true && rpm.source == "/var/lib/rpm/Packages")
    }

    @Test(Requirement.available(programs: ["uname"]))
    func liveHostRunningKernelIsUname() throws {
        let kernel = PatchProbe().kernel(HostRoot())
        let uname = try Shell.run(["uname", "-r"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        if let value = kernel.value {
            #expect(value.running == uname)
        } else {
            // A container: no kernel under /lib/modules to compare with.
            let modules = (try? FileManager.default.contentsOfDirectory(atPath: "/lib/modules")) ?? []
            #expect(!modules.contains { FileManager.default.fileExists(atPath: "/lib/modules/\($0)/modules.dep") })
        }
    }

    /// deb-version(7) ordering against `dpkg --compare-versions`, on the forms that trip parsers and on
    /// the versions this host has installed.
    @Test(Requirement.available(programs: ["dpkg", "dpkg-query"]))
    func versionOrderIsDpkgs() throws {
        var versions = [
            "1.0", "1.0-1", "1.0-1~bpo1", "1.0~rc1", "1.0~rc1-1", "1:0.9", "0:1.0", "1.0a", "1.0+dfsg", "1.0.1",
            "1.00", "1.0-1+deb12u1", "1.0-1+b1", "2:1", "10", "9", "1.0-0", "a", "1.0~~", "1.0~", "1.0-1.1",
            "6.1.0-27", "6.1.0-9", "1.2.3-1ubuntu0.22.04.1", "1.2.3-1ubuntu0.22.04.10", "20250419~deb12u2",
            "20230311+deb12u1",
        ]
        let installed = try Shell.run(["dpkg-query", "-W", "-f", "${Version}\\n"]).stdout
        versions += installed.split(separator: "\n").map(String.init).shuffled().prefix(40)
        var pairs: [(String, String)] = []
        for (index, a) in versions.enumerated() {
            for b in versions[(index + 1)...] where (a.hashValue ^ b.hashValue) % 4 == 0 || index < 27 {
                pairs.append((a, b))
            }
        }
        // One shell for every pair: dpkg itself decides each.
        let script = """
            while read -r a b; do
              if dpkg --compare-versions "$a" lt "$b"; then echo lt
              elif dpkg --compare-versions "$a" eq "$b"; then echo eq
              else echo gt; fi
            done
            """
        let input = pairs.map { "\($0.0) \($0.1)\n" }.joined()
        let answers = try Shell.run(["sh", "-c", script], stdin: Data(input.utf8), timeout: 300).stdout
            .split(separator: "\n")
        try #require(answers.count == pairs.count)
        for ((a, b), answer) in zip(pairs, answers) {
            let ours = DebianVersion.compare(a, b)
            let expected = answer == "lt" ? -1 : answer == "eq" ? 0 : 1
            #expect(ours == expected, "\(a) vs \(b): dpkg \(answer), ours \(ours)")
        }
        #expect(pairs.count > 300)
    }

    @Test func releaseFieldsPriorityAndSecurity() {
        let text = """
            -----BEGIN PGP SIGNED MESSAGE-----
            Hash: SHA256

            Origin: Debian Backports
            Label: Debian Backports
            Suite: bookworm-backports
            Codename: bookworm-backports
            Date: Sat, 11 Jul 2026 10:16:37 UTC
            NotAutomatic: yes
            ButAutomaticUpgrades: yes
            SHA256:
             0123 45 main/binary-amd64/Packages
            -----BEGIN PGP SIGNATURE-----
            Label: forged
            """
        let backports = AptRelease.parse(text, prefix: "x_")
        #expect(backports.priority == 100 && !backports.isSecurity && backports.fields["Label"] == "Debian Backports")
        #expect(backports.date?.timeIntervalSince1970 == 1_783_764_997)
        let ubuntu = AptRelease.parse("Origin: Ubuntu\nLabel: Ubuntu\nSuite: jammy-security\n", prefix: "y_")
        #expect(ubuntu.isSecurity && ubuntu.priority == 500 && ubuntu.name == "Ubuntu jammy-security")
        #expect(AptRelease.parse("Suite: experimental\nNotAutomatic: yes\n", prefix: "z_").priority == 1)
        #expect(RFC2822Date.parse("Sat, 11 Jul 2026 10:16:37 +0200") == nil, "only UTC is read, never guessed")
    }

    /// apt's candidate: the highest priority from the newest version down, never below the installed one.
    @Test func candidateIsAptsPick() {
        let main = AptRelease.parse("Suite: stable\n", prefix: "m_")
        let security = AptRelease.parse("Label: Debian-Security\nSuite: stable-security\n", prefix: "s_")
        let backports = AptRelease.parse("Suite: b\nNotAutomatic: yes\nButAutomaticUpgrades: yes\n", prefix: "b_")
        let experimental = AptRelease.parse("Suite: experimental\nNotAutomatic: yes\n", prefix: "e_")
        let releases = [main, security, backports, experimental]
        var offers = AptOffers()
        offers.offers["a:amd64"] = ["1.0-1": [0], "1.0-1+deb12u1": [1], "1.1-1~bpo12+1": [2], "2.0-1": [3]]
        // Security beats the point release; backports (100) and experimental (1) lose to priority 500.
        #expect(offers.candidate("a:amd64", installed: "1.0-1", releases: releases)?.version == "1.0-1+deb12u1")
        // Installed from backports: backports' newer version is its candidate (the installed one is at 100 too).
        offers.offers["b:amd64"] = ["1.0-1": [0], "1.1-1~bpo12+1": [2], "1.2-1~bpo12+1": [2]]
        #expect(
            offers.candidate("b:amd64", installed: "1.1-1~bpo12+1", releases: releases)?.version == "1.2-1~bpo12+1")
        // Installed newer than any list (a local build): nothing pending, never a downgrade.
        offers.offers["c:amd64"] = ["1.0-1": [0]]
        #expect(offers.candidate("c:amd64", installed: "9.9-1", releases: releases)?.version == "9.9-1")
        #expect(offers.candidate("d:amd64", installed: "1.0", releases: releases) == nil)
    }
}

/// A fixture tree below a fresh directory; files are written in place (a rewrite keeps the inode, so a
/// same-size rewrite within one second is what the probe's kept answer must notice).
struct FixtureTree {
    let root: URL

    init(_ label: String) throws { root = try Paths.temporaryDirectory(label) }

    func write(_ path: String, _ text: String) throws {
        let url = root.appendingPathComponent(String(path.dropFirst()))
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }
}
