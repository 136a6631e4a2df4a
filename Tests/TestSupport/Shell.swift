import Foundation
import Testing

/// Runs real commands for tests: the system tools that build fixtures (nft, ip, systemd-journal-remote)
/// and the oracles a probe is checked against (journalctl, lsblk, uname).
public enum Shell {
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    public struct Failure: Error, CustomStringConvertible {
        public var command: [String]
        public var output: Output
        public var description: String {
            "`\(command.joined(separator: " "))` exited \(output.status): \(output.stderr)\(output.stdout)"
        }
    }

    /// Runs a program (found on PATH when not absolute) with a timeout; throws unless it exits 0.
    @discardableResult
    public static func run(
        _ arguments: [String], stdin: Data? = nil, environment: [String: String]? = nil, timeout: TimeInterval = 60
    ) throws -> Output {
        let output = try runAllowingFailure(arguments, stdin: stdin, environment: environment, timeout: timeout)
        if output.status != 0 { throw Failure(command: arguments, output: output) }
        return output
    }

    public static func runAllowingFailure(
        _ arguments: [String], stdin: Data? = nil, environment: [String: String]? = nil, timeout: TimeInterval = 60
    ) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["--kill-after=5", "\(Int(timeout))"] + arguments
        if let environment { process.environment = environment }
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        // Drain both pipes concurrently so a chatty child never blocks on a full pipe.
        let group = DispatchGroup()
        nonisolated(unsafe) var stdoutData = Data()
        nonisolated(unsafe) var stderrData = Data()
        group.enter()
        DispatchQueue.global().async {
            stdoutData = out.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        group.enter()
        DispatchQueue.global().async {
            stderrData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        group.wait()
        process.waitUntilExit()
        return Output(
            status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
            stderr: String(decoding: stderrData, as: UTF8.self))
    }

    /// True when a program is on PATH (or exists, when absolute).
    public static func has(_ program: String) -> Bool {
        if program.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: program) }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(program)") }
    }
}

/// What a test needs from the machine, and why it is missing; in CI (`CI=true`) a missing requirement is
/// a failure, never a silent skip, because `.ci/run` installs everything.
public enum Requirement {
    public static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }
    public static var isRoot: Bool { getuid() == 0 }

    /// nil when every program is present and, if asked, we are root; otherwise the reason.
    public static func missing(programs: [String], root: Bool = false) -> String? {
        let absent = programs.filter { !Shell.has($0) }
        if !absent.isEmpty {
            return "needs \(absent.joined(separator: ", ")) (apt-get install the packages listed in .ci/run)"
        }
        if root && !isRoot { return "needs root (network namespaces, netfilter)" }
        return nil
    }
}

private let scratchPath = FileManager.default.temporaryDirectory.appendingPathComponent("posture-tests-\(getpid())")
    .path

/// Paths of this checkout and of the built executables.
public enum Paths {
    /// The package root, found from this source file.
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The directory holding the test bundle, where SwiftPM also puts the package's executables.
    public static var buildProducts: URL {
        let exe =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: exe)
        while url.path != "/" && !FileManager.default.fileExists(atPath: url.appendingPathComponent("postured").path) {
            url.deleteLastPathComponent()
        }
        return url
    }

    public static func executable(_ name: String) -> String {
        buildProducts.appendingPathComponent(name).path
    }

    /// A fresh directory under this test process's own scratch directory, which is removed when the
    /// process exits.
    public static func temporaryDirectory(_ label: String) throws -> URL {
        let url = scratch.appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    private static let scratch: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("posture-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: scratchPath) }
        return url
    }()
}

extension Requirement {
    /// A trait that skips the test, with the reason, when the machine lacks what it needs; in CI the test
    /// always runs, so a missing install step fails loudly instead of skipping silently.
    public static func available(programs: [String], root: Bool = false) -> ConditionTrait {
        let reason = missing(programs: programs, root: root)
        return .enabled(if: reason == nil || isCI, Comment(rawValue: reason ?? "available"))
    }
}
