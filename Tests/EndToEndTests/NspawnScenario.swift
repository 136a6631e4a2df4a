import Foundation
import TestSupport

/// A scenario script of `packaging/testbed/nspawn` (Debian 12 booted in systemd-nspawn, this build's binaries
/// bound in): its exit status, its whole output, its `RESULT key=value` lines, and the share directory it
/// wrote its files to.
struct NspawnScenario {
    var status: Int32?
    var output: String
    var results: [String: String]
    var share: URL

    static func run(_ name: String) throws -> NspawnScenario {
        let work = try Paths.temporaryDirectory("e2e-nspawn")
        let share = work.appendingPathComponent("share")
        let log = work.appendingPathComponent("scenario.log").path
        let script = Paths.packageRoot.appendingPathComponent("packaging/testbed/nspawn/\(name)").path
        let status = try DirectSpawn.run(
            ["/bin/bash", script, Paths.buildProducts.path, share.path], logPath: log, timeout: 600)
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        var results: [String: String] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix("RESULT ") {
            let pair = line.dropFirst(7).split(separator: "=", maxSplits: 1)
            results[String(pair[0])] = pair.count > 1 ? String(pair[1]).trimmingCharacters(in: .whitespaces) : ""
        }
        return NspawnScenario(status: status, output: output, results: results, share: share)
    }
}
