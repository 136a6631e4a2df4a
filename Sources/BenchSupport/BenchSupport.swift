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
