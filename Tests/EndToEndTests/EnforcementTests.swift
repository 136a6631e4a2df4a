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
    @Test func aQuarantineEndsNonExemptSessionsAndBlocksLoginsUntilRelease() throws {
        let work = try Paths.temporaryDirectory("e2e-nspawn")
        let log = work.appendingPathComponent("scenario.log").path
        let script = Paths.packageRoot.appendingPathComponent("packaging/testbed/nspawn/enforcement-e2e.sh").path
        let status = try DirectSpawn.run(
            ["/bin/bash", script, Paths.buildProducts.path, work.appendingPathComponent("share").path],
            logPath: log, timeout: 600)
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        var results: [String: String] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix("RESULT ") {
            let pair = line.dropFirst(7).split(separator: "=", maxSplits: 1)
            results[String(pair[0])] = pair.count > 1 ? String(pair[1]).trimmingCharacters(in: .whitespaces) : ""
        }
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
