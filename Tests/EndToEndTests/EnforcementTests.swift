import Foundation
import TestSupport
import Testing

/// Enforcement on a real systemd: `packaging/testbed/nspawn/enforcement-e2e.sh` boots Debian 12 in
/// systemd-nspawn (real logind, PAM, sshd, journald), runs the real collector and the real `postured
/// --enforce` inside as the shipped systemd unit, quarantines and then releases the device, and reports
/// what it saw.
@Suite(
    .serialized,
    Requirement.available(programs: ["systemd-nspawn", "mmdebstrap", "nsenter", "ssh", "ssh-keygen"], root: true))
struct EnforcementTests {
    func scenario(_ name: String) throws -> (status: Int32?, output: String, results: [String: String]) {
        let run = try NspawnScenario.run(name)
        return (run.status, run.output, run.results)
    }

    /// SIGKILL at each step of a quarantine and of a release, systemd restarting the agent: the end state is
    /// exactly what the verdict asks, nothing left behind; a user exempt through his 100th group keeps his
    /// session.
    @Test func anAgentKilledAtAnyStepConvergesAndLeavesNothingBehind() throws {
        let (status, output, results) = try scenario("enforcement-faults-e2e.sh")
        #expect(status == 0, "\(output)")
        #expect(results["bob_groups"] == "101", "\(output)")
        #expect(results["before"] == "nologin=none alice=P sessions=bob,", "\(output)")
        for point in [
            "block-logins", "logins-blocked", "terminate-session", "session-terminated", "lock-account",
            "account-locked",
        ] {
            #expect(
                results["quarantine_\(point)"] == "killed=yes nologin=ours alice=L sessions=bob,",
                "killed at \(point) during a quarantine:\n\(output)")
            #expect(
                results["release_after_\(point)"] == "nologin=none alice=P sessions=bob,",
                "released after a kill at \(point):\n\(output)")
        }
        for point in ["unblock-logins", "logins-unblocked", "unlock-account", "account-unlocked"] {
            #expect(
                results["release_\(point)"] == "killed=yes nologin=none alice=P sessions=bob,",
                "killed at \(point) during a release:\n\(output)")
        }
        #expect(results["bob_session"] == "1")
        #expect(results["status"] == "no")
        #expect(results["nologin_files"] == "0")
        #expect(results["reblocked_during_release"] == "0", "\(output)")
    }

    /// A quarantined device rebooted with its collector out of reach: /run/nologin went with /run, yet logins
    /// are blocked again before sshd listens, and open once the collector releases the device.
    @Test func aRebootDoesNotReopenAQuarantinedDevice() throws {
        let (status, output, results) = try scenario("enforcement-reboot-e2e.sh")
        #expect(status == 0, "\(output)")
        #expect(results["ssh_before"] == "in", "\(output)")
        #expect(results["nologin_quarantined"] == "present", "\(output)")
        #expect(results["reboot"] == "running" || results["reboot"] == "degraded", "\(output)")
        #expect(results["boot_id"] == "new")
        #expect(results["nologin_after_reboot"] == "present", "\(output)")
        #expect(results["ssh_after_reboot_status"] != "0", "\(output)")
        #expect(results["ssh_after_reboot_message"] == "nologin", "\(output)")
        #expect(results["order"] == "agent-first", "\(output)")
        #expect(results["status"] == "yes")
        #expect(results["nologin_after_release"] == "absent", "\(output)")
        #expect(results["ssh_after_release"] == "back", "\(output)")
    }

    @Test func aQuarantineEndsNonExemptSessionsAndBlocksLoginsUntilRelease() throws {
        let (status, output, results) = try scenario("enforcement-e2e.sh")
        #expect(status == 0, "\(output)")
        #expect(results["boot"] == "running" || results["boot"] == "degraded", "\(output)")
        #expect(results["sessions_before"] == "alice alice bob carol", "\(output)")
        #expect(results["verdict_before"] == "compliant", "\(output)")
        // The agent ran as the shipped unit: root, with only the capabilities the unit grants.
        #expect(results["unit_user"] == "root")
        #expect(
            results["unit_capabilities"] == "cap_chown cap_dac_read_search cap_fowner cap_net_admin cap_sys_admin")
        // Quarantined: alice's logind session and SSH connection and carol's console login end; bob
        // (exempt) stays.
        #expect(results["sessions_after"] == "bob", "\(output)")
        #expect(results["ssh_live"] == "disconnected")
        // A new SSH login is refused, showing the nologin message.
        #expect(results["ssh_new_status"] != "0")
        #expect(results["ssh_new_message"] == "nologin")
        // --disable-accounts: alice's password locked, the exempt bob's not.
        #expect(results["alice_password_quarantined"] == "L")
        #expect(results["bob_password_quarantined"] == "P")
        #expect(results["journal_terminated"] == "3")
        #expect(results["journal_users"] == #""POSTURE_USER":"alice" "POSTURE_USER":"carol""#)
        // Released: the agent's nologin file is gone, alice can log in, the journal says so.
        #expect(results["nologin_after_release"] == "gone")
        #expect(results["ssh_after_release"] == "back")
        #expect(results["alice_password_released"] == "P")
        #expect(results["journal_restored"] == "1")
        #expect(results["status"] == "no")
        print(
            "quarantine → last non-exempt session ended: \(results["seconds_to_sessions_ended"] ?? "?") s (real logind in systemd-nspawn)"
        )
    }
}
