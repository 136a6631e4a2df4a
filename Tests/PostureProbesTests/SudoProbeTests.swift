import Foundation
import PostureLinux
import PostureModel
import TestSupport
import Testing

@testable import PostureProbes

/// Standing sudo read from sudoers trees shaped like Debian's, checked against what `sudo -l` would grant.
@Suite struct SudoProbeTests {
    private func tree(_ label: String, _ files: [String: String]) throws -> HostRoot {
        let root = try Paths.temporaryDirectory(label)
        for (path, text) in files {
            let url = root.appendingPathComponent(String(path.dropFirst()))
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
        return HostRoot(root.path)
    }

    @Test func standingUsersComeFromEveryRuleOutsidePosturesGrants() throws {
        let root = try tree(
            "sudo",
            [
                "/usr/bin/sudo": "",
                "/etc/passwd": """
                root:x:0:0:root:/root:/bin/bash
                alice:x:1000:1000::/home/alice:/bin/bash
                bob:x:1001:27::/home/bob:/bin/bash
                carol:x:1002:1002::/home/carol:/bin/bash
                dave:x:1003:1003::/home/dave:/bin/bash
                erin:x:1004:1004::/home/erin:/bin/bash
                """,
                "/etc/group": "sudo:x:27:alice\ndba:x:1100:carol,\nadmins:x:1101:\n",
                "/etc/sudoers": """
                # comment: alice ALL=(ALL) ALL
                Defaults env_reset
                Defaults:dave !lecture
                Cmnd_Alias SHUTDOWN = /sbin/shutdown, /sbin/reboot
                User_Alias OPERATORS = dave, \\
                    %dba
                root ALL=(ALL:ALL) ALL
                %sudo   ALL=(ALL:ALL) ALL
                OPERATORS ALL = SHUTDOWN
                @includedir /etc/sudoers.d
                """,
                "/etc/sudoers.d/README": "# only comments\n",
                "/etc/sudoers.d/10-erin": "#1004 ALL=(ALL) NOPASSWD: /usr/bin/id  # by uid\n",
                "/etc/sudoers.d/ignored.conf": "mallory ALL=(ALL) ALL\n",
                "/etc/sudoers.d/backup~": "mallory ALL=(ALL) ALL\n",
                "/etc/sudoers.d/posture-grant-7-1796000000":
                    "# Posture\n#1003 ALL=(ALL:ALL) NOTAFTER=20261130005320Z NOPASSWD: ALL\n",
                "/etc/sudoers.d/posture-grant-8-1796000000": "frank, ghost ALL=(ALL) ALL\n",
                "/etc/sudoers.d/20-ldap": "%ldapadmins ALL=(ALL) ALL\n+netops ALL=(ALL) ALL\n",
            ])
        let facts = try #require(SudoProbe().collect(in: ProbeContext(root: root, now: Date())).value)
        #expect(facts.installed)
        #expect(
            facts.standingUsers == [
                "%ldapadmins", "+netops", "alice", "bob", "carol", "dave", "erin", "frank", "ghost",
            ], "root left out; sudo's members and primary members; the alias expanded; a uid named")
        #expect(facts.postureGrants == 1, "only a rule with NOTAFTER in a file named as the agent names them")
        #expect(
            facts.rules.map(\.who) == ["root", "%sudo", "OPERATORS", "#1004", "%ldapadmins", "+netops", "frank,ghost"])
        #expect(facts.rules[1].at == "/etc/sudoers:8", "where the rule starts")
        #expect(facts.rules[2].at == "/etc/sudoers:9", "after a continued line")
        #expect(!facts.files.contains { $0.hasSuffix("ignored.conf") || $0.hasSuffix("~") })
    }

    @Test func linesContinueAsSudoContinuesThem() throws {
        let root = try tree(
            "sudo-lines",
            [
                "/etc/passwd": "alice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\n",
                "/etc/group": "",
                // A comment ending in `\` does not swallow the next line; `\` before blanks continues one;
                // CRLF line ends are read as sudo reads them.
                "/etc/sudoers": "# note \\\nalice ALL=(ALL) ALL\r\ncarol, \\  \n  bob ALL=(ALL) ALL\r\n",
            ])
        let facts = try #require(SudoProbe().collect(in: ProbeContext(root: root, now: Date())).value)
        #expect(facts.standingUsers == ["alice", "bob", "carol"])
        #expect(facts.rules.map(\.at) == ["/etc/sudoers:2", "/etc/sudoers:3"])
    }

    @Test func noSudoersIsNoStandingSudoAndAnIncludeLoopIsAnError() throws {
        let none = try tree("sudo-none", ["/etc/passwd": "root:x:0:0::/root:/bin/sh\n"])
        let facts = try #require(SudoProbe().collect(in: ProbeContext(root: none, now: Date())).value)
        #expect(!facts.installed && facts.standingUsers.isEmpty && facts.rules.isEmpty)
        let loop = try tree("sudo-loop", ["/etc/sudoers": "@include /etc/sudoers\n"])
        let reason = SudoProbe().collect(in: ProbeContext(root: loop, now: Date())).unavailableReason
        #expect(reason?.contains("nested deeper than 16") == true, "\(reason ?? "-")")
    }
}
