import Foundation
import PostureLinux
import PostureModel
import TestSupport
import Testing

@testable import PostureProbes

/// Patch level of an rpm system read from a real rpm database and a real dnf metadata cache, checked against
/// dnf itself run on the same tree: packages built with rpmbuild, the old versions installed with rpm, the new
/// ones published with createrepo_c (advisories added with modifyrepo_c), and `dnf makecache` filling the
/// tree's cache as it does on Fedora and RHEL.
@Suite(.serialized) struct RpmPatchProbeTests {
    /// Debian's rpm keeps its database in `~/.rpmdb`; Fedora's place is set for rpm and dnf alike.
    private struct Tree {
        let base: URL
        var root: URL { base.appendingPathComponent("root") }
        var repository: URL { base.appendingPathComponent("repo") }
        var packages: URL { base.appendingPathComponent("rpms") }
        var environment: [String: String] {
            [
                "HOME": base.appendingPathComponent("home").path, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                "LANG": "C.UTF-8",
            ]
        }

        init() throws {
            base = try Paths.temporaryDirectory("rpm-tree")
            let home = base.appendingPathComponent("home")
            try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
            try Data("%_dbpath /usr/lib/sysimage/rpm\n".utf8).write(to: home.appendingPathComponent(".rpmmacros"))
            try FileManager.default.createDirectory(at: repository, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: packages, withIntermediateDirectories: true)
        }

        func run(_ arguments: [String], timeout: TimeInterval = 120) throws -> String {
            try Shell.run(arguments, environment: environment, timeout: timeout).stdout
        }

        /// A package without files (noarch unless told), built by rpmbuild; its path.
        func build(
            _ name: String, epoch: Int = 0, _ version: String, _ release: String, arch: String = "noarch"
        ) throws -> String {
            let spec = base.appendingPathComponent("\(name).spec")
            try Data(
                """
                Name: \(name)
                \(epoch != 0 ? "Epoch: \(epoch)" : "")
                Version: \(version)
                Release: \(release)
                Summary: \(name) for the patch probe's tests
                License: MIT
                BuildArch: \(arch)
                %description
                A package without files.
                %files

                """.utf8
            ).write(to: spec)
            _ = try run([
                "rpmbuild", "-bb", "--define", "_topdir \(base.appendingPathComponent("build").path)",
                "--define", "_rpmdir \(packages.path)", "--define",
                "_build_name_fmt %{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}.rpm",
                spec.path,
            ])
            return packages.appendingPathComponent("\(name)-\(version)-\(release).\(arch).rpm").path
        }

        func install(_ files: [String]) throws {
            _ = try run(["rpm", "--root", root.path, "-i", "--nodeps"] + files)
        }

        /// Publishes `files` as the repository (or another), with `advisories` as its updateinfo.
        func publish(_ files: [String], advisories: String, to directory: URL? = nil) throws {
            let repository = directory ?? self.repository
            try? FileManager.default.removeItem(at: repository)
            try FileManager.default.createDirectory(at: repository, withIntermediateDirectories: true)
            for file in files {
                try FileManager.default.copyItem(
                    atPath: file, toPath: repository.appendingPathComponent((file as NSString).lastPathComponent).path)
            }
            _ = try run(["createrepo_c", "--no-database", repository.path])
            let updateinfo = base.appendingPathComponent("updateinfo.xml")
            try Data(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<updates>\n\(advisories)</updates>\n".utf8
            ).write(to: updateinfo)
            _ = try run([
                "modifyrepo_c", "--mdtype", "updateinfo", updateinfo.path,
                repository.appendingPathComponent("repodata").path,
            ])
        }

        func configure(_ text: String, file: String = "etc/yum.repos.d/test.repo") throws {
            let url = root.appendingPathComponent(file)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }

        func dnf(_ arguments: [String]) throws -> Shell.Output {
            try Shell.runAllowingFailure(
                ["dnf", "--installroot", root.path, "--releasever", "39", "-q"] + arguments, environment: environment,
                timeout: 120)
        }

        /// `dnf check-update` from the cache: `name.arch` → the version it would install.
        func checkUpdate() throws -> [String: String] {
            let output = try dnf(["-C", "check-update"])
            #expect(output.status == 0 || output.status == 100, "\(output.stderr)")
            var result: [String: String] = [:]
            for line in output.stdout.split(separator: "\n") {
                let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
                if words.count == 3 { result[words[0]] = words[1] }
            }
            return result
        }

        /// `dnf updateinfo list --security` from the cache: the package NEVRAs it names, by advisory.
        func securityAdvisories() throws -> Set<String> {
            let output = try dnf(["-C", "updateinfo", "list", "--security"])
            #expect(output.status == 0, "\(output.stderr)")
            return Set(
                output.stdout.split(separator: "\n").compactMap { line in
                    let words = line.split(separator: " ", omittingEmptySubsequences: true)
                    return words.count == 3 ? "\(words[0]) \(words[2])" : nil
                })
        }

        func collect() -> Fact<PackageUpdates> {
            PatchProbe().collect(in: ProbeContext(root: HostRoot(root.path), now: Date())).packages
        }
    }

    private static func advisory(
        _ id: String, type: String, issued: String, _ packages: [(String, String, String, Int)], arch: String = "noarch"
    ) -> String {
        let list = packages.map { name, version, release, epoch in
            "<package name=\"\(name)\" version=\"\(version)\" release=\"\(release)\" epoch=\"\(epoch)\" arch=\"\(arch)\">"
                + "<filename>\(name)-\(version)-\(release).\(arch).rpm</filename></package>"
        }
        return """
              <update from="security@example.org" status="stable" type="\(type)" version="2.0">
                <id>\(id)</id>
                <title>\(id) &amp; friends</title>
                <severity>Important</severity>
                <issued date="\(issued)"/>
                <description><![CDATA[fixes <everything>]]></description>
                <pkglist><collection short="test"><name>test</name>\(list.joined())</collection></pkglist>
              </update>

            """
    }

    private static func utc(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    @Test(
        Requirement.available(
            programs: ["rpmbuild", "rpm", "createrepo_c", "modifyrepo_c", "dnf", "zstd", "xz", "zck", "unshare"],
            root: true))
    func agreesWithDnfOnATreeWithAndWithoutPendingUpdates() throws {
        let tree = try Tree()
        defer { try? FileManager.default.removeItem(at: tree.base) }
        let started = Date()
        // Installed: alpha 1.0-1, beta 2.0-1, gamma 3.0-1, delta 1:0.5-1 (an epoch), epsilon 1.0~rc1-1 (a tilde),
        // kappa 1.0-1 (x86_64), lambda 1.0-1 (noarch, to become x86_64), mu 4.0-1.
        let installed = [
            try tree.build("alpha", "1.0", "1"), try tree.build("beta", "2.0", "1"),
            try tree.build("gamma", "3.0", "1"),
            try tree.build("delta", epoch: 1, "0.5", "1"), try tree.build("epsilon", "1.0~rc1", "1"),
            try tree.build("kappa", "1.0", "1", arch: "x86_64"), try tree.build("lambda", "1.0", "1"),
            try tree.build("mu", "4.0", "1"),
        ]
        _ = try tree.run(["rpm", "--root", tree.root.path, "--initdb"])
        try tree.install(installed)
        try tree.configure("[test]\nname=test\nbaseurl=file://\(tree.repository.path)\ngpgcheck=0\n")

        // The repository offers exactly what is installed, with an advisory for a version already in: current.
        try tree.publish(
            installed,
            advisories: Self.advisory(
                "TEST-2026-0000", type: "security", issued: "2026-10-01 08:00:00", [("alpha", "1.0", "1", 0)]))
        _ = try tree.dnf(["makecache"])
        let current = try #require(tree.collect().value, "\(tree.collect())")
        #expect(try tree.checkUpdate().isEmpty && tree.securityAdvisories().isEmpty)
        #expect(current.manager == "rpm" && current.installed == 8 && current.pending == 0 && current.security.isEmpty)
        #expect(current.securityArchives == ["test"])
        let lastChange = try #require(current.lastChange)
        #expect(lastChange > started.addingTimeInterval(-5) && lastChange < Date().addingTimeInterval(5))
        let rpmCount = try tree.run(["rpm", "--root", tree.root.path, "-qa"]).split(separator: "\n").count
        #expect(current.installed == rpmCount)

        // Newer versions published: alpha with a security advisory, beta with a bugfix one; delta's 1.0 is
        // older than the installed 1:0.5; epsilon's 1.0 is newer than 1.0~rc1, and an older advisory's fix
        // (1.0~rc2, never published) is below that candidate; kappa (x86_64) with a security advisory; lambda
        // moves from noarch to x86_64. A second repository of better priority offers beta at the installed
        // version, which hides the first one's newer beta, and mu, which only it has.
        let newer = [
            try tree.build("alpha", "1.1", "1"), try tree.build("beta", "2.0", "2"),
            try tree.build("delta", "1.0", "1"),
            try tree.build("epsilon", "1.0", "1"), try tree.build("kappa", "1.1", "1", arch: "x86_64"),
            try tree.build("lambda", "2.0", "1", arch: "x86_64"),
        ]
        try tree.publish(
            installed + newer,
            advisories: Self.advisory(
                "TEST-2026-0001", type: "security", issued: "2026-11-20 10:00:00", [("alpha", "1.1", "1", 0)])
                + Self.advisory(
                    "TEST-2026-0002", type: "bugfix", issued: "2026-11-25 10:00:00", [("beta", "2.0", "2", 0)])
                + Self.advisory(
                    "TEST-2026-0003", type: "security", issued: "2026-11-10", [("epsilon", "1.0~rc2", "1", 0)])
                + Self.advisory(
                    "TEST-2026-0004", type: "security", issued: "2026-11-15 08:30:00", [("kappa", "1.1", "1", 0)],
                    arch: "x86_64"))
        let extra = tree.base.appendingPathComponent("extra")
        try tree.publish(
            [try tree.build("beta", "2.0", "1"), try tree.build("mu", "5.0", "1")], advisories: "", to: extra)
        try tree.configure(
            "[extra]\nname=extra\nbaseurl=file://\(extra.path)\ngpgcheck=0\npriority=10\n",
            file: "etc/yum.repos.d/extra.repo")
        _ = try tree.dnf(["makecache", "--refresh"])
        let oracle = try tree.checkUpdate()
        #expect(
            oracle == [
                "alpha.noarch": "1.1-1", "epsilon.noarch": "1.0-1", "kappa.x86_64": "1.1-1", "lambda.x86_64": "2.0-1",
                "mu.noarch": "5.0-1",
            ])
        let versions = Dictionary(oracle.map { (String($0.key.split(separator: ".")[0]), $0.value) }) { a, _ in a }
        let behind = try #require(tree.collect().value, "\(tree.collect())")
        #expect(behind.pending == oracle.count)
        let advisories = try tree.securityAdvisories()
        #expect(
            advisories == [
                "TEST-2026-0001 alpha-1.1-1.noarch", "TEST-2026-0003 epsilon-1.0~rc2-1.noarch",
                "TEST-2026-0004 kappa-1.1-1.x86_64",
            ])
        #expect(behind.pendingSecurity == 3)
        // Oldest first, each since its advisory was issued, with the version dnf would install.
        #expect(behind.security.map(\.package) == ["epsilon", "kappa", "alpha"])
        #expect(
            behind.security.map(\.since) == [
                Self.utc("2026-11-10T00:00:00Z"), Self.utc("2026-11-15T08:30:00Z"), Self.utc("2026-11-20T10:00:00Z"),
            ])
        #expect(behind.security.map(\.candidate) == behind.security.map { versions[$0.package] })
        #expect(
            behind.security.first?.origin == "TEST-2026-0003 (test)" && behind.security.first?.installed == "1.0~rc1-1")
        #expect(behind.security.map(\.architecture) == ["noarch", "x86_64", "noarch"])
        #expect(behind.securityArchives == ["extra", "test"])

        // dnf 5's override files (what `dnf5 config-manager setopt test.enabled=0` writes; globs over ids):
        // without the first repository only mu's update is left. dnf 4 here does not read them, so this is the
        // probe alone, against the answer worked out by hand.
        try tree.configure("[tes*]\nenabled=0\n", file: "etc/dnf/repos.override.d/99-config_manager.repo")
        let overridden = try #require(tree.collect().value, "\(tree.collect())")
        #expect(overridden.pending == 1 && overridden.security.isEmpty && overridden.securityArchives == ["extra"])
        try FileManager.default.removeItem(
            at: tree.root.appendingPathComponent("etc/dnf/repos.override.d/99-config_manager.repo"))
        #expect(tree.collect().value == behind)
        // Fedora's dpkg package leaves an empty dpkg status next to rpm's database: still an rpm host.
        try tree.configure("", file: "var/lib/dpkg/status")
        #expect(tree.collect().value == behind)

        // When the lists were published: the newest primary metadata of the two repositories, as repomd.xml says.
        var published: [Double] = []
        for prefix in ["test-", "extra-"] {
            let repomd = try String(
                contentsOf: try #require(cachedFiles(tree, suffix: "repomd.xml", prefix: prefix).first), encoding: .utf8
            )
            let timestamp = try #require(
                repomd.components(separatedBy: "<data type=\"primary\">")[1].components(separatedBy: "<timestamp>")[1]
                    .components(separatedBy: "</timestamp>").first)
            published.append(try #require(Double(timestamp)))
        }
        #expect(behind.listsUpdatedAt == Date(timeIntervalSince1970: try #require(published.max())))

        // The same cache recompressed as Fedora (zstd, zchunk) and older repositories (xz) publish it: the same
        // answer.
        PatchProbe.forgetCache()
        for (tool, suffix) in [("zstd", ".zst"), ("xz", ".xz"), ("zck", ".zck")] {
            try recompress(tree, tool: tool, suffix: suffix)
            PatchProbe.forgetCache()
            #expect(tree.collect().value == behind, "\(suffix): \(tree.collect())")
        }
        // dnf 5 keeps its cache under /var/cache/libdnf5, in the same layout.
        let cache = tree.root.appendingPathComponent("var/cache")
        try FileManager.default.createDirectory(
            at: cache.appendingPathComponent("libdnf5"), withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: cache.appendingPathComponent("dnf").path)
        where name.hasPrefix("test-") && !name.contains(".") {
            try FileManager.default.moveItem(
                at: cache.appendingPathComponent("dnf/\(name)"), to: cache.appendingPathComponent("libdnf5/\(name)"))
        }
        #expect(tree.collect().value == behind)

        // The agent's unit (ProtectSystem=strict) sees the tree read-only; without rpm's -shm and -wal files
        // SQLite cannot open a WAL database read-only, so the database file is read as it is (immutable):
        // the same answer, from postured itself in a mount namespace with the tree bound read-only.
        let database = tree.root.appendingPathComponent("usr/lib/sysimage/rpm/rpmdb.sqlite").path
        for suffix in ["-shm", "-wal"] { try? FileManager.default.removeItem(atPath: database + suffix) }
        let readOnly = tree.base.appendingPathComponent("read-only").path
        try FileManager.default.createDirectory(atPath: readOnly, withIntermediateDirectories: true)
        let probe = try Shell.run([
            "unshare", "-m", "sh", "-c",
            "mount --bind '\(tree.root.path)' '\(readOnly)' && mount -o remount,bind,ro '\(readOnly)' && "
                + "! touch '\(readOnly)/written' 2>/dev/null && "
                + "exec '\(Paths.executable("postured"))' probe --root '\(readOnly)' --format json",
        ]).stdout
        let report = try PostureReport.makeDecoder().decode(PostureReport.self, from: Data(probe.utf8))
        #expect(report.patches?.packages.value == behind, "\(String(describing: report.patches?.packages))")

        // A repository turned off is not read, whatever its cache says; without any, the reason says so.
        try FileManager.default.removeItem(at: tree.root.appendingPathComponent("etc/yum.repos.d/extra.repo"))
        try tree.configure("[test]\nname=test\nbaseurl=file://\(tree.repository.path)\nenabled=0\n")
        #expect(tree.collect().unavailableReason?.contains("no enabled dnf repository") == true)
        try tree.configure("[other]\nname=other\nbaseurl=file:///nonexistent\n")
        #expect(tree.collect().unavailableReason?.contains("dnf makecache") == true)

        // A core package installed after the boot: the OS probe's rebootRequired says so, as needs-restarting -r.
        try tree.install([try tree.build("glibc", "2.40", "1")])
        let proc = tree.root.appendingPathComponent("proc")
        try FileManager.default.createDirectory(at: proc, withIntermediateDirectories: true)
        func reboot(bootedAt: Date) throws -> RebootRequired? {
            try Data("cpu  1 2 3\nbtime \(Int(bootedAt.timeIntervalSince1970))\n".utf8).write(
                to: proc.appendingPathComponent("stat"))
            return OSProbe().collect(in: ProbeContext(root: HostRoot(tree.root.path), now: Date())).rebootRequired.value
        }
        let before = try reboot(bootedAt: started.addingTimeInterval(-600))
        #expect(
            before?.required == true && before?.reasons.contains { $0.contains("glibc") } == true,
            "\(String(describing: before))")
        #expect(try reboot(bootedAt: Date().addingTimeInterval(60))?.required == false)
    }

    private func cachedFiles(_ tree: Tree, suffix: String, prefix: String = "test-") throws -> [URL] {
        let cache = tree.root.appendingPathComponent("var/cache/dnf")
        return try FileManager.default.contentsOfDirectory(atPath: cache.path).filter {
            $0.hasPrefix(prefix) && !$0.contains(".")
        }
        .flatMap { directory in
            let repodata = cache.appendingPathComponent("\(directory)/repodata")
            return try FileManager.default.contentsOfDirectory(atPath: repodata.path).filter { $0.hasSuffix(suffix) }
                .map { repodata.appendingPathComponent($0) }
        }
    }

    /// Rewrites the cached primary and updateinfo with `tool`, and the cached repomd.xml to name them.
    private func recompress(_ tree: Tree, tool: String, suffix: String) throws {
        let repomd = try #require(try cachedFiles(tree, suffix: "repomd.xml").first)
        var text = try String(contentsOf: repomd, encoding: .utf8)
        let repodata = repomd.deletingLastPathComponent()
        for name in try FileManager.default.contentsOfDirectory(atPath: repodata.path)
        where name.contains("-primary.xml.") || name.contains("-updateinfo.xml.") {
            let file = repodata.appendingPathComponent(name)
            let stem = name.components(separatedBy: ".xml.")[0] + ".xml"
            let decompress = name.hasSuffix(".gz") ? "gzip" : name.hasSuffix(".zst") ? "zstd" : "xz"
            let plainFile = repodata.appendingPathComponent(stem)
            _ = try tree.run(["sh", "-c", "\(decompress) -dc '\(file.path)' > '\(plainFile.path)'"])
            try FileManager.default.removeItem(at: file)
            switch tool {
            case "zstd": _ = try tree.run(["zstd", "-q", "--rm", plainFile.path])
            case "zck":
                // As dnf caches Fedora's: repomd.xml lists both forms, only the zchunk one is fetched.
                _ = try tree.run(["zck", "-o", plainFile.path + ".zck", plainFile.path])
                try FileManager.default.removeItem(at: plainFile)
                let type = name.contains("-primary.xml.") ? "primary" : "updateinfo"
                text = text.replacingOccurrences(
                    of: "</repomd>",
                    with: "<data type=\"\(type)_zck\"><location href=\"repodata/\(stem).zck\"/></data>\n</repomd>")
                continue
            default: _ = try tree.run([tool, "-q", plainFile.path])
            }
            text = text.replacingOccurrences(of: name, with: stem + suffix)
        }
        try Data(text.utf8).write(to: repomd)
    }
}
