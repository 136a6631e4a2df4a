import Foundation
import PostureLinux
import TestSupport
import Testing

@Suite struct HostRootTests {
    @Test func symlinksResolveInsideTheRootEvenWhenAbsolute() throws {
        let base = try Paths.temporaryDirectory("hostroot")
        let fm = FileManager.default
        try fm.createDirectory(
            at: base.appendingPathComponent("sys/devices/virtual/block/dm-0"), withIntermediateDirectories: true)
        try fm.createDirectory(at: base.appendingPathComponent("sys/class/block"), withIntermediateDirectories: true)
        try fm.createDirectory(at: base.appendingPathComponent("dev/mapper"), withIntermediateDirectories: true)
        try fm.createSymbolicLink(
            atPath: base.appendingPathComponent("sys/class/block/dm-0").path,
            withDestinationPath: "../../devices/virtual/block/dm-0")
        // An absolute link must not escape to the real /dev.
        try fm.createSymbolicLink(
            atPath: base.appendingPathComponent("dev/mapper/root").path, withDestinationPath: "/dev/dm-0")
        let root = HostRoot(base.path)
        #expect(try root.canonicalPath("/sys/class/block/dm-0") == "/sys/devices/virtual/block/dm-0")
        #expect(throws: SystemError.self) { try root.canonicalPath("/dev/mapper/root") }
        try "x".write(to: base.appendingPathComponent("dev/dm-0"), atomically: true, encoding: .utf8)
        #expect(try root.canonicalPath("/dev/mapper/root") == "/dev/dm-0")
    }

    @Test func readingAMissingFileNamesThePathAndTheCause() {
        do {
            _ = try HostRoot().readText("/nonexistent/posture")
            Issue.record("read succeeded")
        } catch {
            #expect(error.code == .notFound)
            #expect(error.description.contains("/nonexistent/posture"))
            #expect(error.description.contains("No such file"))
        }
    }

    @Test func oversizedFilesAreRefused() throws {
        let base = try Paths.temporaryDirectory("hostroot-big")
        try Data(repeating: 65, count: 10_000).write(to: base.appendingPathComponent("big"))
        #expect(throws: SystemError.self) { try HostRoot(base.path).readText("/big", limit: 4096) }
        #expect(try HostRoot(base.path).readText("/big").count == 10_000)
    }

    @Test func byteSearchFindsWhatContainsFinds() {
        let samples = ["", "a", "alice : 3 incorrect password attempts ; TTY=pts/0", "ééé incorrect password attempt"]
        for sample in samples {
            #expect(sample.containsBytes("incorrect password attempt") == sample.contains("incorrect password attempt"))
            #expect(sample.hasPrefixBytes("alice") == sample.hasPrefix("alice"))
        }
    }
}
