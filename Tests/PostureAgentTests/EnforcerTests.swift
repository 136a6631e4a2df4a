import Foundation
import Logging
import PostureAgent
import PostureLinux
import TestSupport
import Testing

/// The enforcer with the real sd-bus logind client, pointed at a private D-Bus daemon where a stand-in
/// `org.freedesktop.login1` (python3-dbus) lists sessions, records terminations and refuses some. The real
/// logind is exercised in a booted systemd (nspawn) end to end.
@Suite(.serialized, Requirement.available(programs: ["dbus-daemon", "/usr/bin/python3"]))
final class EnforcerTests {
    static let standIn = """
        import json, sys, dbus, dbus.service, dbus.mainloop.glib
        from gi.repository import GLib
        state_path, log_path = sys.argv[1], sys.argv[2]
        class Manager(dbus.service.Object):
            def state(self):
                return json.load(open(state_path))
            @dbus.service.method("org.freedesktop.login1.Manager", in_signature="", out_signature="a(susso)")
            def ListSessions(self):
                return [(s["id"], dbus.UInt32(s["uid"]), s["user"], "seat0", dbus.ObjectPath("/org/freedesktop/login1/session/_3" + s["id"]))
                        for s in self.state()["sessions"]]
            @dbus.service.method("org.freedesktop.login1.Manager", in_signature="s", out_signature="")
            def TerminateSession(self, session):
                if session in self.state().get("refuse", []):
                    raise dbus.exceptions.DBusException("Access denied", name="org.freedesktop.DBus.Error.AccessDenied")
                if session in self.state().get("vanished", []):
                    raise dbus.exceptions.DBusException("No session", name="org.freedesktop.login1.NoSuchSession")
                open(log_path, "a").write("terminate " + session + "\\n")
            @dbus.service.method("org.freedesktop.login1.Manager", in_signature="s", out_signature="")
            def LockSession(self, session):
                open(log_path, "a").write("lock " + session + "\\n")
        dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
        bus = dbus.bus.BusConnection(sys.argv[3])
        name = dbus.service.BusName("org.freedesktop.login1", bus)
        Manager(bus, "/org/freedesktop/login1")
        print("ready", flush=True)
        GLib.MainLoop().run()
        """

    let directory: URL
    let socket: String
    let bus: BackgroundProcess
    let service: BackgroundProcess
    let terminations: String

    init() throws {
        let directory = try Paths.temporaryDirectory("enforcer")
        self.directory = directory
        let socket = directory.appendingPathComponent("bus").path
        self.socket = socket
        let address = "unix:path=\(socket)"
        bus = try BackgroundProcess(
            ["/usr/bin/dbus-daemon", "--session", "--nofork", "--address=\(address)"],
            logPath: directory.appendingPathComponent("bus.log").path)
        _ = BackgroundProcess.eventually(timeout: 5) { FileManager.default.fileExists(atPath: socket) }
        let state = directory.appendingPathComponent("sessions.json").path
        try """
        {"sessions": [
          {"id": "1", "uid": 1000, "user": "alice"}, {"id": "2", "uid": 0, "user": "root"},
          {"id": "3", "uid": 1001, "user": "breakglass"}, {"id": "4", "uid": 1002, "user": "carol"},
          {"id": "5", "uid": 1003, "user": "dave"}, {"id": "6", "uid": 1, "user": "daemon"}],
         "refuse": ["4"], "vanished": ["5"]}
        """.write(toFile: state, atomically: true, encoding: .utf8)
        let terminations = directory.appendingPathComponent("terminations.log").path
        self.terminations = terminations
        service = try BackgroundProcess(
            ["/usr/bin/python3", "-c", Self.standIn, state, terminations, address],
            logPath: directory.appendingPathComponent("login1.log").path)
        let log = directory.appendingPathComponent("login1.log").path
        _ = BackgroundProcess.eventually(timeout: 10) {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("ready")
        }
        setenv("DBUS_SYSTEM_BUS_ADDRESS", address, 1)
    }

    deinit {
        service.signal(SIGKILL)
        bus.signal(SIGKILL)
        unsetenv("DBUS_SYSTEM_BUS_ADDRESS")
    }

    func enforcer(
        _ mode: EnforcementOptions.Mode, statePath: String? = nil, bootID: String? = "boot-1",
        configure: (inout EnforcementOptions) -> Void = { _ in }
    ) -> (Enforcer, String) {
        var options = EnforcementOptions()
        options.mode = mode
        options.exemptUsers = ["root", "breakglass"]
        // A real group of this machine's user database: Debian's `daemon` user is its only member.
        options.exemptGroups = ["daemon"]
        options.nologinPath = directory.appendingPathComponent("nologin-\(mode.rawValue)").path
        configure(&options)
        let enforcer = Enforcer(
            options: options, logins: LogindClient(),
            statePath: statePath ?? directory.appendingPathComponent("state-\(UUID().uuidString).json").path,
            logger: Logger(label: "test"), bootID: bootID)
        return (enforcer, options.nologinPath)
    }

    var terminated: [String] {
        ((try? String(contentsOfFile: terminations, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    @Test func nonCompliantEndsTheSessionsOfUsersWhoAreNotExemptAndCompliantUndoesIt() async throws {
        let (enforcer, nologin) = enforcer(.enforce)
        await enforcer.apply(status: .noncompliant, failing: ["root-encrypted"], quarantine: nil)
        // alice ended; root and breakglass exempt by name, daemon by group; carol's termination refused by
        // logind and reported.
        #expect(terminated == ["terminate 1"])
        let text = try String(contentsOfFile: nologin, encoding: .utf8)
        #expect(text.contains("failing: root-encrypted"))
        let records = await enforcer.records
        let failure = try #require(records.first { $0.messageID == Enforcer.MessageID.actionFailed })
        #expect(failure.fields["POSTURE_SESSION"] == "4")
        #expect(failure.message.contains("AccessDenied"))
        // dave's session vanished before logind could end it (NoSuchSession): gone, not a failure.
        #expect(records.filter { $0.messageID == Enforcer.MessageID.actionFailed }.count == 1)
        #expect(
            records.contains {
                $0.fields["POSTURE_SESSION"] == "5" && $0.fields["POSTURE_RESULT"] == "already-gone"
            })
        #expect(
            records.contains {
                $0.messageID == Enforcer.MessageID.sessionTerminated && $0.fields["POSTURE_USER"] == "alice"
            })
        #expect(await enforcer.state.enforcing)

        await enforcer.apply(status: .compliant, failing: [], quarantine: nil)
        #expect(!FileManager.default.fileExists(atPath: nologin))
        #expect(await enforcer.records.last?.messageID == Enforcer.MessageID.restored)
        #expect(!(await enforcer.state.enforcing))
    }

    @Test func anAdministratorsNologinIsNeitherClaimedNorRemoved() async throws {
        let (enforcer, nologin) = enforcer(.enforce)
        try "maintenance until 18:00\n".write(toFile: nologin, atomically: true, encoding: .utf8)
        await enforcer.apply(status: .noncompliant, failing: ["x"], quarantine: nil)
        await enforcer.apply(status: .compliant, failing: [], quarantine: nil)
        #expect(try String(contentsOfFile: nologin, encoding: .utf8) == "maintenance until 18:00\n")
    }

    @Test func anEmptyNologinIsAnAdministratorsToo() async throws {
        let (enforcer, nologin) = enforcer(.enforce)
        FileManager.default.createFile(atPath: nologin, contents: Data())
        await enforcer.apply(status: .noncompliant, failing: ["x"], quarantine: nil)
        #expect(try Data(contentsOf: URL(fileURLWithPath: nologin)).isEmpty)
        #expect(await enforcer.state.nologinWritten == nil)
        await enforcer.apply(status: .compliant, failing: [], quarantine: nil)
        #expect(FileManager.default.fileExists(atPath: nologin))
    }

    /// The states a kill can leave between recording an intent and acting on it, as a restarted agent
    /// finds them: it converges to what the verdict asks, and release undoes exactly what was done.
    @Test func aKillBetweenIntentAndActConvergesAfterRestart() async throws {
        let statePath = directory.appendingPathComponent("state-killed.json").path
        let (first, nologin) = enforcer(.enforce, statePath: statePath) { $0.terminateSessions = false }
        await first.apply(status: .noncompliant, failing: ["x"], quarantine: nil)
        let written = try String(contentsOfFile: nologin, encoding: .utf8)
        #expect(await first.state.nologinWritten == written)

        // Killed after the intent was saved and before the file was written: the file is absent.
        try FileManager.default.removeItem(atPath: nologin)
        let (restarted, _) = enforcer(.enforce, statePath: statePath) { $0.terminateSessions = false }
        await restarted.apply(status: .noncompliant, failing: ["x"], quarantine: nil)
        #expect(try String(contentsOfFile: nologin, encoding: .utf8) == written, "the block was put back")
        // Killed again, then released: the file is recognised as the agent's own and removed.
        let (again, _) = enforcer(.enforce, statePath: statePath) { $0.terminateSessions = false }
        await again.apply(status: .compliant, failing: [], quarantine: nil)
        #expect(!FileManager.default.fileExists(atPath: nologin))
        #expect(!(await again.state.enforcing))

        // Intent saved, file never written, verdict compliant after the restart: nothing is left behind.
        try FileManager.default.removeItem(atPath: statePath)
        let (fourth, _) = enforcer(.enforce, statePath: statePath) { $0.terminateSessions = false }
        await fourth.apply(status: .noncompliant, failing: ["x"], quarantine: nil)
        try FileManager.default.removeItem(atPath: nologin)
        let (fifth, _) = enforcer(.enforce, statePath: statePath) { $0.terminateSessions = false }
        await fifth.apply(status: .compliant, failing: [], quarantine: nil)
        #expect(!FileManager.default.fileExists(atPath: nologin))
        #expect(await fifth.state.nologinWritten == nil)
    }

    /// A reboot empties /run and restarts session IDs: the block is put back at start, before the agent
    /// reports ready, and a session with an ID ended in the earlier boot is a new one, ended too.
    @Test func aRebootPutsTheBlockBackAndForgetsTheLastBootsSessions() async throws {
        let statePath = directory.appendingPathComponent("state-reboot.json").path
        let (before, nologin) = enforcer(.enforce, statePath: statePath, bootID: "boot-1")
        await before.apply(status: .noncompliant, failing: ["x"], quarantine: "stolen")
        #expect(terminated == ["terminate 1"])
        #expect(await before.state.terminatedSessions == ["1"])
        try FileManager.default.removeItem(atPath: nologin)  // /run is a tmpfs

        let (after, _) = enforcer(.enforce, statePath: statePath, bootID: "boot-2")
        await after.reestablish()
        #expect(FileManager.default.fileExists(atPath: nologin), "logins open after the reboot")
        #expect(await after.state.terminatedSessions.isEmpty)
        await after.apply(status: .noncompliant, failing: ["x"], quarantine: "stolen")
        #expect(terminated == ["terminate 1", "terminate 1"], "session 1 of this boot was spared")

        // The same boot again (the agent restarted, no reboot): session 1 is not ended twice.
        let (restarted, _) = enforcer(.enforce, statePath: statePath, bootID: "boot-2")
        await restarted.reestablish()
        await restarted.apply(status: .noncompliant, failing: ["x"], quarantine: "stolen")
        #expect(terminated.count == 2)
    }

    @Test func dryRunDecidesAndRecordsButTouchesNothing() async throws {
        let (enforcer, nologin) = enforcer(.dryRun)
        await enforcer.apply(status: .noncompliant, failing: ["x"], quarantine: "stolen")
        #expect(terminated.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: nologin))
        let records = await enforcer.records
        #expect(records.contains { $0.message.contains("dry run: would end session 1 of alice") })
        #expect(records.contains { $0.message.contains("quarantined: stolen") })
        #expect(!records.contains { $0.fields["POSTURE_SESSION"] == "2" || $0.fields["POSTURE_SESSION"] == "3" })
    }

    @Test func aBusThatIsGoneIsReportedAndNothingCrashes() async throws {
        let (enforcer, nologin) = enforcer(.enforce)
        service.signal(SIGKILL)
        bus.signal(SIGKILL)
        _ = bus.wait()
        await enforcer.apply(status: .noncompliant, failing: ["x"], quarantine: nil)
        // Logins are still blocked; the session step failed and says so.
        #expect(FileManager.default.fileExists(atPath: nologin))
        let failure = await enforcer.records.first { $0.messageID == Enforcer.MessageID.actionFailed }
        #expect(failure?.message.contains("list sessions") == true)
    }

    @Test func unknownLeavesAccessAsItIsUnlessDenyOnDoubt() async throws {
        let (enforcer, nologin) = enforcer(.enforce)
        await enforcer.apply(status: .unknown, failing: [], quarantine: nil)
        #expect(!FileManager.default.fileExists(atPath: nologin))
        #expect(terminated.isEmpty)
    }

    @Test func aNoticeLocksSessionsFirstAndEndsThemWhenItRunsOut() async throws {
        let (enforcer, _) = enforcer(.enforce) { options in
            options.notifyFor = .seconds(30)
            options.lockDuringNotice = true
        }
        let t0 = Date()
        await enforcer.apply(status: .noncompliant, failing: ["x"], quarantine: nil, at: t0)
        #expect(terminated == ["lock 1", "lock 4", "lock 5"])
        await enforcer.apply(status: .noncompliant, failing: ["x"], quarantine: nil, at: t0.addingTimeInterval(10))
        #expect(terminated.count == 3)  // still within the notice
        await enforcer.apply(status: .noncompliant, failing: ["x"], quarantine: nil, at: t0.addingTimeInterval(30))
        #expect(terminated.contains("terminate 1"))
    }

    @Test func offlineTheLastVerdictStandsForAWhileThenTheOfflineRuleApplies() async throws {
        for rule in [EnforcementOptions.Offline.closed, .open] {
            let (enforcer, nologin) = enforcer(.enforce) { options in
                options.keepLastVerdictFor = .seconds(600)
                options.offline = rule
                options.terminateSessions = false
                options.nologinPath += "-\(rule.rawValue)"
            }
            let t0 = Date()
            await enforcer.apply(
                status: rule == .closed ? .compliant : .noncompliant, failing: [], quarantine: nil, at: t0)
            await enforcer.collectorUnreachable(now: t0.addingTimeInterval(599))
            #expect(FileManager.default.fileExists(atPath: nologin) == (rule == .open))
            await enforcer.collectorUnreachable(now: t0.addingTimeInterval(601))
            // closed: access taken away; open: given back.
            #expect(FileManager.default.fileExists(atPath: nologin) == (rule == .closed))
        }
    }
}
