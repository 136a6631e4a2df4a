import Foundation
import PostureLinux
import TestSupport
import Testing

@testable import PostureProbes

/// The rpm formats the patch probe reads by itself, each against rpm's own tools: version order against
/// `rpm.vercmp`, header blobs from a database rpm wrote against `rpm -q`, and the XML scanner on what
/// createrepo writes and on what it must refuse or leave unexpanded.
@Suite struct RpmFormatTests {
    /// `rpm.vercmp` of rpm's Lua on every pair: -1, 0 or 1 for each, in order.
    private func rpmOrder(_ strings: [String]) throws -> [Int] {
        var script = ""
        for a in strings {
            for b in strings { script += "print(rpm.vercmp('\(a)', '\(b)')) print(' ') " }
        }
        let output = try Shell.run(["rpm", "--eval", "%{lua: \(script)}"]).stdout
        return output.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int($0) }
    }

    /// rpmvercmp's order against rpm's own (rpm's Lua `rpm.vercmp`), on the forms that differ from Debian's;
    /// then whole epoch:version-release values (which `rpm.vercmp` parses as such).
    @Test(Requirement.available(programs: ["rpm"]))
    func versionOrderIsRpms() throws {
        // Neither `-` nor `:`: rpm allows neither in a version or a release.
        let versions = [
            "1.0", "1.0~rc1", "1.0~rc2", "1.0^git1", "1.0^git1~pre", "1.0.1", "1.00", "1.0a", "1.0b", "1.0.a", "1a",
            "a", "A", "1.0_1", "10", "9", "010", "2.0", "1.0~~", "1.0~", "1.0^", "1..0", "1.0+1", "0", "5.14.0",
            "427.13.1.el9_4", "427.13.1.el9_10", "el9", "fc41", "1.2.3.4.5.6.7.8.9", "99999999999999999999",
            "100000000000000000000", "1.0rc1", "1.0.rc1",
        ]
        let oracle = try rpmOrder(versions)
        try #require(oracle.count == versions.count * versions.count)
        var index = 0
        for a in versions {
            for b in versions {
                #expect(RpmVersion.compare(a, b).signum() == oracle[index].signum(), "\(a) vs \(b)")
                index += 1
            }
        }
        let values = [
            RpmEVR(epoch: 0, version: "1.0", release: "1"), RpmEVR(epoch: 1, version: "0.5", release: "1"),
            RpmEVR(epoch: 0, version: "1.0", release: "1.fc41"), RpmEVR(epoch: 0, version: "1.0", release: "2"),
            RpmEVR(epoch: 0, version: "1.0~rc1", release: "9"), RpmEVR(epoch: 2, version: "0", release: "0"),
            RpmEVR(epoch: 0, version: "1.0.1", release: "0"),
        ]
        let evrOracle = try rpmOrder(values.map { "\($0.epoch):\($0.version)-\($0.release)" })
        try #require(evrOracle.count == values.count * values.count)
        index = 0
        for a in values {
            for b in values {
                #expect(RpmEVR.compare(a, b).signum() == evrOracle[index].signum(), "\(a) vs \(b)")
                index += 1
            }
        }
        #expect(RpmEVR(epoch: 2, version: "1.0", release: "1.fc41").description == "2:1.0-1.fc41")
    }

    /// Header blobs of a database rpm wrote read as `rpm -q` prints them; damaged ones refused, never trapped on.
    @Test(Requirement.available(programs: ["rpm", "rpmbuild"], root: false))
    func headersReadAsRpmPrintsThem() throws {
        let base = try Paths.temporaryDirectory("rpm-headers")
        defer { try? FileManager.default.removeItem(at: base) }
        let environment = ["HOME": base.path, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"]
        try Data("%_dbpath /var/lib/rpm\n".utf8).write(to: base.appendingPathComponent(".rpmmacros"))
        let root = base.appendingPathComponent("root").path
        try Shell.run(["rpm", "--root", root, "--initdb"], environment: environment)
        for (name, epoch, version) in [("one", 0, "1.0~rc1^git2"), ("two", 3, "2.5")] {
            let spec = base.appendingPathComponent("\(name).spec")
            try Data(
                "Name: \(name)\n\(epoch > 0 ? "Epoch: \(epoch)\n" : "")Version: \(version)\nRelease: 7.fc41\nSummary: s\nLicense: MIT\nBuildArch: noarch\n%description\nd\n%files\n"
                    .utf8
            ).write(to: spec)
            try Shell.run(
                ["rpmbuild", "-bb", "--define", "_topdir \(base.path)/build", spec.path], environment: environment,
                timeout: 120)
        }
        let built = try FileManager.default.contentsOfDirectory(atPath: "\(base.path)/build/RPMS/noarch")
            .map { "\(base.path)/build/RPMS/noarch/\($0)" }
        try Shell.run(["rpm", "--root", root, "-i", "--nodeps"] + built, environment: environment)
        let oracle = try Shell.run(
            [
                "rpm", "--root", root, "-qa", "--qf",
                "%{NAME} %{EPOCHNUM} %{VERSION} %{RELEASE} %{ARCH} %{INSTALLTIME}\\n",
            ],
            environment: environment
        ).stdout.split(separator: "\n").map(String.init).sorted()
        let database = try RpmDatabase.read(HostRoot(root), path: "/var/lib/rpm/rpmdb.sqlite")
        let read = database.packages.map {
            "\($0.name) \($0.evr.epoch) \($0.evr.version) \($0.evr.release) \($0.architecture) \($0.installTime ?? -1)"
        }.sorted()
        #expect(read == oracle && read.count == 2)

        // Every truncation of a real blob and a few forged counts: refused with a reason, never a trap.
        var blob: [UInt8] = []
        try SQLiteBlobReader.forEachBlob(
            "\(root)/var/lib/rpm/rpmdb.sqlite", sql: "SELECT blob FROM Packages LIMIT 1", limit: 1
        ) {
            blob = Array($0)
        }
        #expect(blob.withUnsafeBytes { (try? RpmHeader.parse($0)) != nil })
        for length in stride(from: 0, to: blob.count - 1, by: 7) {
            #expect(throws: RpmHeader.Malformed.self) {
                try Array(blob.prefix(length)).withUnsafeBytes { _ = try RpmHeader.parse($0) }
            }
        }
        var forged = blob
        forged[0...3] = [0xff, 0xff, 0xff, 0xff][...]
        #expect(throws: RpmHeader.Malformed.self) { try forged.withUnsafeBytes { _ = try RpmHeader.parse($0) } }
        // Entries whose offsets point where their value cannot be, with the lengths consistent: the name's
        // past the data, a number (the epoch of `two`, or the install time) across its end or misaligned.
        func word(_ bytes: [UInt8], _ at: Int) -> Int { bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
        func forging(_ tag: Int, offset: (Int) -> Int) throws -> [UInt8] {
            var bytes = blob
            let entries = word(bytes, 0)
            let dataSize = word(bytes, 4)
            let index = try #require((0..<entries).first { word(bytes, 8 + $0 * 16) == tag }, "tag \(tag)")
            let value = offset(dataSize)
            for k in 0..<4 { bytes[8 + index * 16 + 8 + k] = UInt8((value >> (24 - 8 * k)) & 0xff) }
            return bytes
        }
        let nameGone = try forging(1000) { $0 + 5 }
        #expect(throws: RpmHeader.Malformed.self) { try nameGone.withUnsafeBytes { _ = try RpmHeader.parse($0) } }
        let numberAcrossTheEnd = try forging(1008) { $0 - 2 }
        #expect(throws: RpmHeader.Malformed.self) {
            try numberAcrossTheEnd.withUnsafeBytes { _ = try RpmHeader.parse($0) }
        }
        let misaligned = try forging(1008) { _ in 3 }
        #expect(throws: RpmHeader.Malformed.self) { try misaligned.withUnsafeBytes { _ = try RpmHeader.parse($0) } }
        // The name's string runs to the end of the data without its NUL.
        forged = blob
        let dataStart = 8 + Int(blob[3]) * 16 + Int(blob[2]) * 4096
        for index in dataStart..<forged.count where forged[index] == 0 { forged[index] = 0x41 }
        #expect(throws: RpmHeader.Malformed.self) { try forged.withUnsafeBytes { _ = try RpmHeader.parse($0) } }
        // A row limit: a database grown without bound is refused rather than read forever.
        #expect(throws: SystemError.self) {
            try SQLiteBlobReader.forEachBlob(
                "\(root)/var/lib/rpm/rpmdb.sqlite", sql: "SELECT blob FROM Packages", limit: 1
            ) { _ in }
        }
    }

    private func scan(_ text: String, chunk: Int) throws -> [String] {
        var scanner = RepoXMLScanner()
        var tokens: [String] = []
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + chunk, bytes.count)
            try scanner.feed(bytes[offset..<end]) { token in
                switch token.kind {
                case .start:
                    tokens.append("<\(String(decoding: token.name, as: UTF8.self)) v=\(token.attribute("v") ?? "-")>")
                case .end: tokens.append("</\(String(decoding: token.name, as: UTF8.self))>")
                case .text:
                    let text = token.text
                    if !text.allSatisfy(\.isWhitespace) { tokens.append(text) }
                }
            }
            offset = end
        }
        try scanner.finish()
        return tokens
    }

    /// Tags, attributes (with `>` and the other quote inside), entities, CDATA, comments and processing
    /// instructions; the same tokens whatever the chunks; entities of a DOCTYPE never expanded; a cut document
    /// and an endless tag refused.
    @Test func xmlScannerReadsWhatCreaterepoWritesAndNoMore() throws {
        let document = """
            <?xml version="1.0" encoding="UTF-8"?>
            <!DOCTYPE updates [ <!ENTITY boom "boom"> ]>
            <!-- a comment with <tags> -->
            <a v="1 > 0 'q'"><b v='say "hi"'/>x &amp; y &lt;&#65;&#x42;&unknown; &boom;<![CDATA[<raw> &amp;]]></a>
            """
        let expected = [
            "<a v=1 > 0 'q'>", "<b v=say \"hi\">", "</b>", "x & y <AB&unknown; &boom;", "<raw> &amp;", "</a>",
        ]
        // The DOCTYPE's internal subset ends at its first `>`: what follows it up to `]>` is text, never a
        // declaration; the entity it names stays as written.
        let tokens = try scan(document, chunk: document.utf8.count)
        #expect(Array(tokens.suffix(expected.count)) == expected, "\(tokens)")
        for chunk in [1, 2, 3, 5, 64] { #expect(try scan(document, chunk: chunk) == tokens, "chunk \(chunk)") }
        #expect(throws: RepoXMLScanner.Malformed.self) { try scan("<a><b attr=\"never closed", chunk: 4) }
        let endless = "<a v=\"" + String(repeating: "x", count: RepoXMLScanner.tokenLimit + 10)
        #expect(throws: RepoXMLScanner.Malformed.self) { try scan(endless, chunk: 1 << 16) }
        #expect(AdvisoryDate.parse("2026-11-20 10:00:00") == ISO8601DateFormatter().date(from: "2026-11-20T10:00:00Z"))
        #expect(AdvisoryDate.parse("1795168800") == Date(timeIntervalSince1970: 1_795_168_800))
        #expect(AdvisoryDate.parse("2026-11-20") == ISO8601DateFormatter().date(from: "2026-11-20T00:00:00Z"))
        #expect(AdvisoryDate.parse("20 Nov 2026") == nil && AdvisoryDate.parse("2026-13-01") == nil)
    }
}
