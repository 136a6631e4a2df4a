import Foundation
import TestSupport
import Testing

/// Running the collector as a service: an online backup restored, readiness for a load balancer.
@Suite(.serialized, Requirement.available(programs: ["curl", "tar"]))
struct OperationsTests {
    @Test func anOnlineBackupRestoresACollectorThatTakesEveryDevicesNextReport() throws {
        let collector = try CollectorHarness("e2e-backup")
        let (first, firstID) = try collector.enrollAgent("first")
        let (second, secondID) = try collector.enrollAgent("second")
        try Shell.run([CollectorHarness.agentBinary, "run", "--state-dir", second, "--count", "1"])
        try collector.command(["devices", "quarantine", secondID, "--reason", "backup test", "--by", "ops"])
        // Taken while an agent delivers every 200 ms.
        let agent = try BackgroundProcess(
            [CollectorHarness.agentBinary, "run", "--state-dir", first, "--interval", "200ms"],
            logPath: collector.directory.appendingPathComponent("agent.log").path)
        #expect(BackgroundProcess.eventually { (try? collector.attestations(firstID).count) ?? 0 >= 3 })
        let archive = collector.directory.appendingPathComponent("backup.tar").path
        let beforeBackup = try collector.attestations(firstID).count
        let written = try collector.command(["backup", "--to", archive])
        #expect(
            written.contains("collector.sqlite") && written.contains("ca.key") && written.contains("verdict-es256.key"))
        let mode = try FileManager.default.attributesOfItem(atPath: archive)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let backedUp = try collector.attestations(firstID).count
        // More reports reach the old store after the backup: the restored one will not have them.
        #expect(BackgroundProcess.eventually { (try? collector.attestations(firstID).count) ?? 0 >= backedUp + 3 })
        agent.signal(SIGTERM)
        #expect(agent.wait(timeout: 30) == 0, "\(agent.log)")
        let trail = try collector.command(["audit", "verify"])

        // Restore: the collector stopped, its state directory replaced by the archive, started again.
        collector.stop()
        try FileManager.default.removeItem(atPath: collector.stateDirectory)
        try FileManager.default.createDirectory(atPath: collector.stateDirectory, withIntermediateDirectories: true)
        try Shell.run(["tar", "-xf", archive, "-C", collector.stateDirectory])
        try collector.start()
        let restored = try collector.attestations(firstID).count
        #expect(
            restored >= beforeBackup && restored <= backedUp,
            "restored \(restored), stored before the backup \(beforeBackup), after it \(backedUp)")
        #expect(try collector.command(["audit", "verify"]).contains("audit trail intact"))
        #expect(trail.contains("audit trail intact"))
        // Every device's next report is accepted: the agents' newer sequences and nonces are cured by a
        // fresh nonce; the quarantine survived.
        for (state, id) in [(first, firstID), (second, secondID)] {
            let before = try collector.attestations(id).count
            let run = try Shell.run([CollectorHarness.agentBinary, "run", "--state-dir", state, "--count", "1"])
            #expect(try collector.attestations(id).count > before, "\(run.stderr)")
        }
        #expect(try collector.command(["devices", "verdict", secondID]).contains("backup test"))
    }

    /// 1,000 devices reconnecting at once to a collector that was just killed, under a descriptor limit
    /// a twentieth of its connection caps (the old unit's 1,024): every one delivers, the collector stays up.
    @Test(Requirement.available(programs: ["prlimit"]))
    func aThousandDevicesReconnectingAtOnceAllDeliverAndNothingCrashes() throws {
        let run = try Shell.runAllowingFailure(
            [Paths.executable("posture-collector-bench"), "--storm", "1000", "--nofile", "1024"], timeout: 600)
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr.suffix(2000))")
        #expect(run.stdout.contains("storm: 1000/1000 delivered"), "\(run.stdout)")
        #expect(run.stdout.contains("collector up"), "\(run.stdout)")
    }

    /// A full disk (a tmpfs filled to the last byte): the collector neither crash-loops nor blames
    /// permissions. Stopped cleanly, it waits for space and then starts by itself; killed (its WAL index
    /// still there), it starts at once and /readyz says the store cannot take a write until space is freed.
    @Test(Requirement.available(programs: ["mount", "umount", "dd"], root: true))
    func theCollectorStartsOnAFullDisk() throws {
        let scratch = try Paths.temporaryDirectory("full-disk")
        // The collector's state directory moved onto a small tmpfs of its own.
        let collector = try CollectorHarness("e2e-full-disk")
        collector.stop()
        let saved = scratch.appendingPathComponent("saved").path
        try Shell.run(["cp", "-a", collector.stateDirectory, saved])
        try Shell.run(["mount", "-t", "tmpfs", "-o", "size=12m,mode=0700", "tmpfs", collector.stateDirectory])
        defer { _ = try? Shell.runAllowingFailure(["umount", "-l", collector.stateDirectory]) }
        try Shell.run(["sh", "-c", "cp -a '\(saved)'/. '\(collector.stateDirectory)'/"])
        try collector.start()
        let fill = collector.stateDirectory + "/fill"
        func fillDisk() throws {
            // To the last byte: big blocks, then small ones.
            for (index, size) in ["64k", "4k", "512"].enumerated() {
                _ = try Shell.runAllowingFailure(
                    ["dd", "if=/dev/zero", "of=\(fill)\(index)", "bs=\(size)"], timeout: 60)
            }
        }
        func freeDisk() throws {
            for index in 0..<3 { try? FileManager.default.removeItem(atPath: "\(fill)\(index)") }
        }
        func readiness() throws -> CurlResult { try curl(collector.enrollmentURL + "/readyz", ca: collector.caPath) }
        #expect(try readiness().http == 200)

        // Killed, then the disk fills: it starts; ready only if a write still fits (the WAL reuses its
        // pages), else it says why.
        collector.kill9()
        try fillDisk()
        try collector.start()
        let full = try readiness()
        #expect(full.http == 200 || (full.http == 503 && full.body.contains("cannot take a write")), "\(full)")
        try freeDisk()
        #expect(BackgroundProcess.eventually(timeout: 10) { (try? readiness().http) == 200 })

        // Stopped, then full, with no WAL index left (SQLite must make one, as after a reboot: the -shm file
        // is only an index of the WAL, safe to remove while nothing has the store open): it waits for space
        // (no exit, no restart loop), then starts by itself.
        collector.stop()
        try? FileManager.default.removeItem(atPath: collector.stateDirectory + "/collector.sqlite-shm")
        try fillDisk()
        let waiting = try BackgroundProcess(
            [
                CollectorHarness.collectorBinary, "serve", "--state-dir", collector.stateDirectory,
                "--listen-enrollment", "127.0.0.1:\(collector.enrollmentPort)",
                "--listen-devices", "127.0.0.1:\(collector.devicesPort)", "--listen-api",
                "127.0.0.1:\(collector.apiPort)",
            ], logPath: scratch.appendingPathComponent("waiting.log").path)
        #expect(
            BackgroundProcess.eventually(timeout: 15) { waiting.log.contains("waiting for space") }, "\(waiting.log)")
        #expect(waiting.wait(timeout: 2) == nil, "the collector exited on a full disk: \(waiting.log)")
        #expect(!waiting.log.contains("permissions"), "\(waiting.log)")
        try freeDisk()
        #expect(BackgroundProcess.eventually(timeout: 20) { waiting.log.contains("listening api") }, "\(waiting.log)")
        #expect(try readiness().http == 200)
        waiting.signal(SIGTERM)
        _ = waiting.wait(timeout: 30)
    }
}
