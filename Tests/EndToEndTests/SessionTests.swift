import Foundation
import PostureModel
import TestSupport
import Testing

/// Sessions and screen lock from a real logind: `packaging/testbed/nspawn/sessions-e2e.sh` boots Debian 12 in
/// systemd-nspawn, opens sessions through PAM and ssh, sets idle and lock hints through logind's own methods as
/// a desktop does, and records `postured probe` at each step; the operator's `posture-collector policy test`
/// judges those reports under a `screenLock` rule.
@Suite(
    .serialized,
    Requirement.available(programs: ["systemd-nspawn", "mmdebstrap", "nsenter", "ssh", "ssh-keygen"], root: true))
struct SessionTests {
    @Test func logindSessionsAndTheirLockStateReachTheReportAndThePolicy() throws {
        let run = try NspawnScenario.run("sessions-e2e.sh")
        #expect(run.status == 0, "\(run.output)")
        let ids = Dictionary(
            uniqueKeysWithValues: (run.results["sessions"] ?? "").split(separator: " ").map { pair in
                let parts = pair.split(separator: "=")
                return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
            })
        for user in ["alice", "dave", "carol", "erin"] { #expect(ids[user]?.isEmpty == false, "\(run.output)") }
        for step in ["active", "idle", "locked", "back", "unknown"] {
            #expect(run.results["probe_\(step)"] == "0", "postured probe at \(step):\n\(run.output)")
        }
        #expect(run.results["idle_alice"] == "0" && run.results["lock_alice"] == "0", "\(run.output)")

        func sessions(_ step: String) throws -> [String: LoginSessionFacts] {
            let data = try Data(contentsOf: run.share.appendingPathComponent("\(step).json"))
            let report = try PostureReport.makeDecoder().decode(PostureReport.self, from: data)
            let facts = try #require(
                report.sessions?.value, "sessions at \(step): \(String(describing: report.sessions))")
            #expect(facts.total == facts.sessions.count)
            return Dictionary(uniqueKeysWithValues: facts.sessions.map { ($0.user, $0) })
        }
        let active = try sessions("active")
        let alice = try #require(active["alice"])
        #expect(alice.id == ids["alice"])
        #expect(alice.type == "wayland" && alice.sessionClass == "user" && alice.desktop == "GNOME")
        #expect(alice.graphical && !alice.remote && alice.active && !alice.idle && alice.idleSince == nil)
        // GNOME keeps LockedHint, so its false means unlocked; sway does not, so it means nothing.
        #expect(alice.locked == .unlocked)
        #expect(active["dave"]?.locked == .unknown)
        #expect(active["carol"]?.type == "tty" && active["carol"]?.locked == .notApplicable)
        #expect(active["carol"]?.service == "login" && active["carol"]?.remote == false)
        let erin = try #require(active["erin"])
        #expect(erin.remote && erin.remoteHost == "127.0.0.1" && erin.service == "sshd" && !erin.graphical)
        #expect(erin.locked == .notApplicable)

        let idle = try sessions("idle")
        #expect(idle["alice"]?.idle == true && idle["alice"]?.idleSince != nil && idle["alice"]?.locked == .unlocked)
        #expect(idle["dave"]?.idle == true && idle["dave"]?.locked == .unknown)
        // The table a person reads (`postured probe`, `posturectl devices show`).
        let table = try String(contentsOf: run.share.appendingPathComponent("idle.txt"), encoding: .utf8)
        #expect(table.contains("Sessions\n  sessions             4 (2 graphical)\n"), "\(table)")
        #expect(table.contains("alice          wayland, local, active, idle 0d 0h 0m, unlocked, GNOME"), "\(table)")
        #expect(table.contains("erin           tty, remote, active"), "\(table)")
        let locked = try sessions("locked")
        #expect(locked["alice"]?.locked == .locked)
        // A hint set is believed on any desktop.
        #expect(locked["dave"]?.locked == .locked)
        let back = try sessions("back")
        #expect(back["alice"]?.idle == false && back["alice"]?.locked == .unlocked)
        #expect(try sessions("unknown")["dave"]?.locked == .unknown)

        // The cases hold under the rule (only back and locked compliant) and with unknownLock: pass (only
        // idle, where alice's GNOME session is idle and unlocked, noncompliant).
        #expect(run.results["policy_test"] == "0", "\(run.output)")
        #expect(run.results["policy_test_lenient"] == "0", "\(run.output)")
        let verdict = try String(contentsOf: run.share.appendingPathComponent("idle-verdict.log"), encoding: .utf8)
        #expect(verdict.contains("session \(ids["alice"] ?? "?") (alice, wayland, GNOME) idle"), "\(verdict)")
        #expect(verdict.contains("and unlocked"), "\(verdict)")
        #expect(
            verdict.contains("(dave, wayland, sway) idle")
                && verdict.contains("lock state unknown (its desktop does not report LockedHint)"), "\(verdict)")
        #expect(!verdict.contains("carol") && !verdict.contains("erin"), "\(verdict)")
        // Active, but on a desktop that reports neither lock nor idleness: that alone fails (deny on doubt).
        let activeVerdict = try String(
            contentsOf: run.share.appendingPathComponent("active-verdict.log"), encoding: .utf8)
        #expect(
            activeVerdict.contains(
                "(dave, wayland, sway): lock state unknown (its desktop reports neither lock nor idle time to logind)")
                && !activeVerdict.contains("alice"), "\(activeVerdict)")
    }
}
