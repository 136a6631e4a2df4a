import Foundation
import TestSupport
import Testing

/// An operator's bad day, with the real collector and agent: an answer lost after the collector stored the
/// report, then an outage longer than the skew (a TCP relay that swallows answers, then refuses
/// connections); each side's clock an hour wrong and corrected (libfaketime). The promise checked is the
/// agent README's: every report is stored exactly once, in order, or is still in the spool; none is set
/// aside for a wrong clock.
@Suite(.serialized, Requirement.available(programs: ["/usr/bin/python3", "faketime"]))
struct FaultTests {
    /// A TCP relay from 127.0.0.1:argv[1] to 127.0.0.1:argv[2] whose mode is the content of the file
    /// argv[3]: `pass`; `swallow` (the collector's answers are dropped and the client cut off: the answer
    /// lost after the collector stored the report); `down` (every connection closed, new ones refused).
    static let relayScript = """
        import asyncio, sys
        listen, target, mode_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
        def mode():
            try:
                return open(mode_file).read().strip()
            except OSError:
                return "pass"
        async def pipe(reader, writer, answers, others):
            try:
                while True:
                    data = await reader.read(65536)
                    if not data:
                        break
                    if answers and mode() == "swallow":
                        print("swallowed", len(data), flush=True)
                        break
                    writer.write(data)
                    await writer.drain()
            except Exception:
                pass
            for w in others:
                w.close()
        async def handle(client_reader, client_writer):
            if mode() == "down":
                client_writer.close()
                return
            try:
                server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target)
            except OSError:
                client_writer.close()
                return
            both = [client_writer, server_writer]
            async def watch():
                while mode() != "down":
                    await asyncio.sleep(0.05)
                for w in both:
                    w.close()
            watcher = asyncio.ensure_future(watch())
            await asyncio.gather(pipe(client_reader, server_writer, False, both), pipe(server_reader, client_writer, True, both))
            watcher.cancel()
        async def main():
            server = await asyncio.start_server(handle, "127.0.0.1", listen)
            print("relaying", flush=True)
            await server.serve_forever()
        asyncio.run(main())
        """

    /// Sends the agent to the relay instead of the collector's devices listener.
    static func redirect(state: String, from port: Int, to relay: Int) throws {
        let path = state + "/enrollment.json"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("127.0.0.1:\(port)"))
        try text.replacingOccurrences(of: "127.0.0.1:\(port)", with: "127.0.0.1:\(relay)")
            .write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test func aLostAnswerThenAnOutageLongerThanTheSkewLosesNoReport() throws {
        // A 2 s skew makes the outage below "longer than the skew" in seconds instead of minutes.
        let collector = try CollectorHarness("e2e-lost-answer", configuration: "attestations: {skew: 2s}\n")
        let (state, deviceID) = try collector.enrollAgent("agent")
        let relayPort = try freeLoopbackPort()
        let mode = collector.directory.appendingPathComponent("relay.mode").path
        try "pass".write(toFile: mode, atomically: true, encoding: .utf8)
        let relay = try BackgroundProcess(
            ["/usr/bin/python3", "-c", Self.relayScript, "\(relayPort)", "\(collector.devicesPort)", mode],
            logPath: collector.directory.appendingPathComponent("relay.log").path)
        defer { relay.signal(SIGKILL) }
        #expect(BackgroundProcess.eventually(timeout: 10) { relay.log.contains("relaying") }, "\(relay.log)")
        try Self.redirect(state: state, from: collector.devicesPort, to: relayPort)
        let agent = try BackgroundProcess(
            [CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "300ms"],
            logPath: collector.directory.appendingPathComponent("agent.log").path)
        defer { agent.signal(SIGKILL) }
        func stored() -> Int { (try? collector.attestations(deviceID).count) ?? 0 }
        #expect(BackgroundProcess.eventually { stored() >= 3 }, "\(agent.log)")

        // The next report is stored, its answer lost; then the collector is out of reach for 3 × the skew
        // while the agent keeps spooling under the nonce the lost answer had replaced.
        let before = stored()
        try "swallow".write(toFile: mode, atomically: true, encoding: .utf8)
        #expect(BackgroundProcess.eventually { relay.log.contains("swallowed") }, "no answer was swallowed")
        // An answer lost is a report stored: the collector answers after its commit.
        #expect(BackgroundProcess.eventually { stored() > before }, "no report reached the collector")
        Thread.sleep(forTimeInterval: 1)
        try "down".write(toFile: mode, atomically: true, encoding: .utf8)
        Thread.sleep(forTimeInterval: 6)
        let lastDuringOutage = try lastSequence(state)
        try "pass".write(toFile: mode, atomically: true, encoding: .utf8)
        #expect(
            BackgroundProcess.eventually(timeout: 60) { stored() >= Int(lastDuringOutage) },
            "stored \(stored()) of \(lastDuringOutage):\n\(agent.log)")
        agent.signal(SIGTERM)
        #expect(agent.wait(timeout: 30) == 0, "\(agent.log)")

        try expectEveryReportStoredOnceOrSpooled(collector, deviceID: deviceID, state: state)
        print(
            "lost answer, then 6 s out of reach at a 2 s skew: \(lastDuringOutage) reports signed by then, \(stored()) stored"
        )
        #expect(agent.log.contains("collector already had report"), "the resend was not answered already_accepted")
        let events = try collector.command(["events", "--limit", "1000"])
        #expect(events.contains("nonce_superseded"), "the outage was not longer than the skew")
    }

    @Test func anAgentClockAnHourAheadHoldsItsReportsUntilItIsCorrected() throws {
        let collector = try CollectorHarness("e2e-agent-clock")
        let (state, deviceID) = try collector.enrollAgent("agent")
        let clock = try FakeClock(collector.directory, offset: "+3600")
        let agent = try BackgroundProcess(
            clock.command + [CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "300ms"],
            logPath: collector.directory.appendingPathComponent("agent.log").path)
        defer { agent.signal(SIGKILL) }
        func spooled() -> Int { (try? spoolSequences(state).count) ?? 0 }
        #expect(BackgroundProcess.eventually { spooled() >= 10 }, "\(agent.log)")
        #expect(try collector.attestations(deviceID).isEmpty)
        let status = try Shell.run([CollectorHarness.agentBinary, "status", "--state-dir", state]).stdout
        #expect(status.contains("future_issue_time"), "\(status)")
        // The same for scripts: `--format json`.
        let json = try Shell.run([CollectorHarness.agentBinary, "status", "--state-dir", state, "--format", "json"])
            .stdout
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(report["enrolled"] as? Bool == true)
        #expect((report["device"] as? String)?.hasSuffix(deviceID) == true, "\(json)")
        let spool = try #require(report["spool"] as? [String: Any], "\(json)")
        #expect((spool["count"] as? Int ?? 0) >= 10)
        #expect((spool["hold"] as? [String: Any])?["code"] as? String == "future_issue_time", "\(json)")
        // Bounded log volume while the clocks disagree: the hold is logged once, not per try.
        let held = agent.log.components(separatedBy: "for its time (").count - 1
        print("agent an hour ahead: \(spooled()) reports held, \(held) hold warning(s) logged")
        #expect(held == 1, "\(agent.log)")

        try clock.set("+0")
        let corrected = Date()
        #expect(
            BackgroundProcess.eventually(timeout: 100) {
                spooled() <= 2 && (try? collector.attestations(deviceID).count) ?? 0 > 10
            },
            "\(agent.log)")
        print(
            "held reports delivered \(String(format: "%.1f", Date().timeIntervalSince(corrected))) s after the clock was corrected"
        )
        agent.signal(SIGTERM)
        #expect(agent.wait(timeout: 30) == 0, "\(agent.log)")
        try expectEveryReportStoredOnceOrSpooled(collector, deviceID: deviceID, state: state)
        #expect(agent.log.contains("the clocks agree again"))
    }

    @Test func aCollectorClockBackFromTheFutureLosesNothingAndItsVerdictsAreActedOn() throws {
        let clock = try FakeClock(try Paths.temporaryDirectory("collector-clock"), offset: "+3600")
        let collector = try CollectorHarness("e2e-collector-clock", launchPrefix: clock.command)
        // Enrolled while the collector's clock is an hour ahead.
        let (state, deviceID) = try collector.enrollAgent("agent")
        let nologin = collector.directory.appendingPathComponent("nologin").path
        let agent = try BackgroundProcess(
            [
                CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "500ms", "--enforce",
                "dry-run",
                "--nologin-path", nologin,
            ], logPath: collector.directory.appendingPathComponent("agent.log").path)
        defer { agent.signal(SIGKILL) }
        // The agent acts on the verdict signed an hour ahead; its reports wait (signed "before" their nonce).
        #expect(BackgroundProcess.eventually(timeout: 20) { agent.log.contains("posture.signed=true") }, "\(agent.log)")
        #expect(BackgroundProcess.eventually(timeout: 20) { agent.log.contains("stale_issue_time") }, "\(agent.log)")

        try clock.set("+0")
        let corrected = Date()
        // Its certificate, issued an hour "ahead", still connects; the held reports go; a quarantine is acted on.
        #expect(
            BackgroundProcess.eventually(timeout: 100) { agent.log.contains("the clocks agree again") }, "\(agent.log)")
        print(
            "reports flowing \(String(format: "%.1f", Date().timeIntervalSince(corrected))) s after the collector's clock was corrected"
        )
        Thread.sleep(forTimeInterval: 1)
        let quarantined = Date()
        try collector.command(["devices", "quarantine", deviceID, "--reason", "incident 9", "--by", "erin"])
        #expect(
            BackgroundProcess.eventually(timeout: 15) {
                let data = FileManager.default.contents(atPath: state + "/enforcement.json") ?? Data()
                let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
                return (object?["lastDecision"] as? String)?.contains("quarantined: incident 9") == true
            }, "\(agent.log)")
        print(
            "quarantine acted on \(String(format: "%.2f", Date().timeIntervalSince(quarantined))) s after the command")
        let refusals = agent.log.components(separatedBy: "verdict refused").count - 1
        print("verdicts refused while the clocks disagreed: \(refusals)")
        #expect(refusals <= 10, "\(agent.log)")
        agent.signal(SIGTERM)
        #expect(agent.wait(timeout: 30) == 0, "\(agent.log)")
        try expectEveryReportStoredOnceOrSpooled(collector, deviceID: deviceID, state: state)
    }

    // MARK: What every fault test checks

    func lastSequence(_ state: String) throws -> UInt64 {
        UInt64(
            try String(contentsOfFile: state + "/sequence", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    func spoolSequences(_ state: String) throws -> [UInt64] {
        try FileManager.default.contentsOfDirectory(atPath: state + "/spool")
            .compactMap { $0.hasSuffix(".json") ? UInt64($0.dropLast(5)) : nil }.sorted()
    }

    /// Every sequence the agent used is stored exactly once, in order, or still in its spool; nothing was
    /// set aside in `spool/rejected/`.
    func expectEveryReportStoredOnceOrSpooled(_ collector: CollectorHarness, deviceID: String, state: String) throws {
        let sequences = try collector.attestations(deviceID).map(\.sequence)
        let last = try lastSequence(state)
        let spooled = try spoolSequences(state)
        #expect(!sequences.isEmpty)
        #expect(sequences == Array(1...UInt64(max(1, sequences.count))), "stored \(sequences)")
        #expect(
            spooled == Array(UInt64(sequences.count + 1)..<(last + 1)),
            "spool \(spooled), stored \(sequences.count), last \(last)")
        let rejected = (try? FileManager.default.contentsOfDirectory(atPath: state + "/spool/rejected")) ?? []
        #expect(rejected.isEmpty, "set aside: \(rejected)")
    }
}

/// A clock set by libfaketime for one process, changed while it runs by rewriting a file.
struct FakeClock {
    let file: String

    init(_ directory: URL, offset: String) throws {
        file = directory.appendingPathComponent("faketime.rc").path
        try set(offset)
    }

    func set(_ offset: String) throws { try offset.write(toFile: file, atomically: true, encoding: .utf8) }

    /// The wall clock only: timers and timeouts (CLOCK_MONOTONIC) stay true.
    var command: [String] {
        let library =
            ["/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1"]
            .first { FileManager.default.fileExists(atPath: $0) } ?? "libfaketime.so.1"
        return [
            "/usr/bin/env", "LD_PRELOAD=\(library)", "FAKETIME_TIMESTAMP_FILE=\(file)", "FAKETIME_NO_CACHE=1",
            "FAKETIME_DONT_FAKE_MONOTONIC=1",
        ]
    }
}
