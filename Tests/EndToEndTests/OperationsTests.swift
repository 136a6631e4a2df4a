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
}
