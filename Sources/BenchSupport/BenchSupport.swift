// Helpers the benchmark executables share: running commands and servers, reading CPU time, percentiles.
import Foundation
import Glibc

/// Runs a command, returns its stdout; exits on failure.
@discardableResult
public func run(_ arguments: [String]) -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch {
        print("cannot run \(arguments[0]): \(error)")
        exit(1)
    }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

/// CPU seconds (user + system) a process has used so far.
public func cpuSeconds(of pid: Int32) -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return 0 }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    let ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
    return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
}

public func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

public func fixed(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }

/// A started server process, its stdout lines readable.
public func startServer(_ arguments: [String], log: String) -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: arguments[0])
    process.arguments = Array(arguments.dropFirst())
    _ = FileManager.default.createFile(atPath: log, contents: nil)
    let handle = FileHandle(forWritingAtPath: log)
    process.standardOutput = handle
    process.standardError = handle
    do { try process.run() } catch {
        print("cannot start \(arguments[0]): \(error)")
        exit(1)
    }
    return process
}

public func waitFor(_ text: String, in log: String, seconds: Int = 15) -> String {
    for _ in 0..<(seconds * 20) {
        if let content = try? String(contentsOfFile: log, encoding: .utf8),
            let line = content.split(separator: "\n").first(where: { $0.contains(text) })
        {
            return String(line)
        }
        usleep(50_000)
    }
    print("timed out waiting for '\(text)' in \(log)")
    exit(1)
}

/// `body(0..<count)`, `width` at a time, the non-nil results in completion order (enrolling a simulated
/// fleet: not what is measured, but bounded so the collector's enrollment listener is not flooded).
public func inBatches<T: Sendable>(
    _ count: Int, width: Int, _ body: @escaping @Sendable (Int) async -> T?, progress: (Int) -> Void = { _ in }
) async -> [T] {
    var results: [T] = []
    for batch in stride(from: 0, to: count, by: width) {
        results += await withTaskGroup(of: T?.self) { group in
            for index in batch..<min(batch + width, count) { group.addTask { await body(index) } }
            var out: [T] = []
            for await result in group { if let result { out.append(result) } }
            return out
        }
        progress(results.count)
    }
    return results
}

/// A process's resident and anonymous (private) memory, in bytes, from `/proc/<pid>/status`.
public func processMemory(_ pid: Int32) -> (rss: Double, anonymous: Double) {
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    func field(_ name: String) -> Double {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
        return (Double(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }
    return (field("VmRSS"), field("RssAnon"))
}
