import Foundation
import PostureLinux
import TestSupport
import Testing

/// Lines of a package list read back exactly as written, plain and LZ4-compressed by the lz4 tool (as apt
/// keeps lists in Debian's container images): across the reader's chunk boundaries and LZ4's blocks.
@Suite struct IndexFileReaderTests {
    @Test(Requirement.available(programs: ["lz4"]))
    func plainAndLZ4ListsReadBackLineForLine() throws {
        let directory = try Paths.temporaryDirectory("index-reader")
        // About 1.5 MB: many 64 KiB read chunks and 256 KiB decompression buffers; one line of 300 KiB
        // crosses several of them; no newline at the end.
        var lines: [String] = []
        for index in 0..<20_000 {
            lines += [
                "Package: p\(index)", "Version: 1.\(index)-1",
                "Description: \(String(repeating: "x", count: index % 97))", "",
            ]
        }
        lines.insert("Long: " + String(repeating: "y", count: 300_000), at: 1234)
        lines.append("Package: last")
        let text = lines.joined(separator: "\n")
        let plain = directory.appendingPathComponent("list_Packages").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: plain))
        func read(_ path: String) throws -> [String] {
            var result: [String] = []
            try IndexFileReader.forEachLine(path) { result.append(String(decoding: $0, as: UTF8.self)) }
            return result
        }
        #expect(try read(plain) == lines)
        // Small LZ4 blocks (-B4: 64 KiB) and the default (4 MiB) both decode to the same lines.
        for blocks in ["-B4", "-B7"] {
            let compressed = plain + blocks + ".lz4"
            try Shell.run(["lz4", "-q", blocks, plain, compressed])
            #expect(try read(compressed) == lines, "\(blocks)")
        }
        // A frame cut short, and bytes that are no frame: refused with the cause, never half-read.
        let whole = try Data(contentsOf: URL(fileURLWithPath: plain + "-B7.lz4"))
        let cut = plain + "-cut.lz4"
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: cut))
        #expect(throws: SystemError.self) { try read(cut) }
        let garbage = plain + "-garbage.lz4"
        try Data("not a frame\n".utf8).write(to: URL(fileURLWithPath: garbage))
        #expect(throws: SystemError.self) { try read(garbage) }
        // A limit on the text: a list that would keep the agent reading is refused.
        #expect(throws: SystemError.self) { try IndexFileReader.forEachLine(plain, limit: 1000) { _ in } }
        #expect(throws: SystemError.self) { try read(plain + ".bz2") }
    }

    /// gzip, xz and zstd as their own tools write them (dnf's repository metadata, apt lists kept compressed):
    /// the same lines back, also from several members or frames in one file; a stream cut short, bytes that are
    /// no stream and bzip2 (not read) refused with the cause.
    @Test(Requirement.available(programs: ["gzip", "xz", "zstd", "lz4"]))
    func gzipXZAndZstdReadBackLineForLine() throws {
        let directory = try Paths.temporaryDirectory("index-reader-compressed")
        let lines = (0..<30_000).map { "<package><name>p\($0)</name><version ver=\"1.\($0)\"/></package>" }
        let plain = directory.appendingPathComponent("primary.xml").path
        try Data(lines.joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: plain))
        func read(_ path: String) throws -> [String] {
            var result: [String] = []
            try IndexFileReader.forEachLine(path) { result.append(String(decoding: $0, as: UTF8.self)) }
            return result
        }
        for (tool, suffix) in [("gzip", ".gz"), ("xz", ".xz"), ("zstd", ".zst")] {
            let compressed = plain + suffix
            try Shell.run(["sh", "-c", "\(tool) -c '\(plain)' > '\(compressed)'"])
            #expect(try read(compressed) == lines, "\(suffix)")
            // Two streams one after the other, as `cat a.gz b.gz` makes: both read, as the tools read them.
            let twice = plain + "-twice" + suffix
            try Shell.run(["sh", "-c", "cat '\(compressed)' '\(compressed)' > '\(twice)'"])
            let expected = lines.dropLast() + [lines.last! + lines.first!] + lines.dropFirst()
            #expect(try read(twice) == Array(expected), "\(suffix) twice")
            let whole = try Data(contentsOf: URL(fileURLWithPath: compressed))
            let cut = plain + "-cut" + suffix
            try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: cut))
            #expect(throws: SystemError.self, "\(suffix) cut") { try read(cut) }
            let garbage = plain + "-garbage" + suffix
            try Data("not a stream at all\n".utf8).write(to: URL(fileURLWithPath: garbage))
            #expect(throws: SystemError.self, "\(suffix) garbage") { try read(garbage) }
            #expect(throws: SystemError.self) { try IndexFileReader.forEachLine(compressed, limit: 10_000) { _ in } }
        }
        #expect(!IndexFileReader.canRead("primary.xml.bz2"))

        // Exactly four times the reader's 256 KiB output buffer: the last step ends the frame with the buffer
        // full, which must not be taken for a cut stream (zstd and LZ4 would read an empty input as a new frame).
        let exact = directory.appendingPathComponent("exact.xml").path
        let block = Array(repeating: "0123456789abcde\n", count: 65536).joined()
        try Data(block.utf8).write(to: URL(fileURLWithPath: exact))
        for (tool, suffix) in [("gzip", ".gz"), ("xz", ".xz"), ("zstd", ".zst"), ("lz4", ".lz4")] {
            try Shell.run(["sh", "-c", "\(tool) -c '\(exact)' > '\(exact)\(suffix)'"])
            #expect(try read(exact + suffix).count == 65536, "\(suffix)")
        }
        // xz's stream padding (zero bytes in fours after a stream) is valid, as `xz -t` says.
        try Shell.run([
            "sh", "-c", "cat '\(plain).xz' > '\(plain)-padded.xz' && head -c 8 /dev/zero >> '\(plain)-padded.xz'",
        ])
        try Shell.run(["xz", "-t", plain + "-padded.xz"])
        #expect(try read(plain + "-padded.xz") == lines)
    }

    /// zchunk (Fedora's dnf metadata) through libzck, against the zck tool's own files: read back, and a file
    /// cut short or damaged refused.
    @Test(Requirement.available(programs: ["zck", "unzck"]))
    func zchunkReadsBackLineForLine() throws {
        let directory = try Paths.temporaryDirectory("index-reader-zck")
        let lines = (0..<30_000).map { "<package><name>p\($0)</name></package>" }
        let plain = directory.appendingPathComponent("primary.xml").path
        try Data(lines.joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: plain))
        try Shell.run(["zck", "-o", plain + ".zck", plain])
        var read: [String] = []
        try IndexFileReader.forEachLine(plain + ".zck") { read.append(String(decoding: $0, as: UTF8.self)) }
        #expect(read == lines)
        // Cut anywhere, inside the first data chunk too (which libzck alone reads as a clean end), or extended.
        let whole = try Data(contentsOf: URL(fileURLWithPath: plain + ".zck"))
        for length in [400, 3500, whole.count / 2, whole.count - 100, whole.count - 1] {
            try whole.prefix(length).write(to: URL(fileURLWithPath: plain + "-cut.zck"))
            #expect(throws: SystemError.self, "\(length) bytes") {
                try IndexFileReader.forEachLine(plain + "-cut.zck") { _ in }
            }
        }
        try (whole + Data([0])).write(to: URL(fileURLWithPath: plain + "-long.zck"))
        #expect(throws: SystemError.self) { try IndexFileReader.forEachLine(plain + "-long.zck") { _ in } }
        var damaged = whole
        damaged[damaged.count - 50] ^= 0xff
        try damaged.write(to: URL(fileURLWithPath: plain + "-damaged.zck"))
        #expect(throws: SystemError.self) { try IndexFileReader.forEachLine(plain + "-damaged.zck") { _ in } }
        try Data("not zchunk".utf8).write(to: URL(fileURLWithPath: plain + "-garbage.zck"))
        #expect(throws: SystemError.self) { try IndexFileReader.forEachLine(plain + "-garbage.zck") { _ in } }
    }
}
