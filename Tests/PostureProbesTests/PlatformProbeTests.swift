import Foundation
import PostureLinux
import PostureModel
import TestSupport
import Testing

@testable import PostureProbes

/// Secure Boot, lockdown, LSMs and sshd read from small trees shaped like the real files.
@Suite struct PlatformProbeTests {
    private func tree(_ label: String, _ files: [String: [UInt8]]) throws -> HostRoot {
        let root = try Paths.temporaryDirectory(label)
        for (path, bytes) in files {
            let url = root.appendingPathComponent(String(path.dropFirst()))
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(bytes).write(to: url)
        }
        return HostRoot(root.path)
    }

    private func text(_ string: String) -> [UInt8] { Array(string.utf8) }

    @Test func secureBootEnabledDisabledAndSetupMode() throws {
        let guid = SecureBootProbe.globalVariableGUID
        let on = try tree(
            "sb-on",
            [
                "/sys/firmware/efi/efivars/SecureBoot-\(guid)": [6, 0, 0, 0, 1],
                "/sys/firmware/efi/efivars/SetupMode-\(guid)": [6, 0, 0, 0, 0],
            ])
        #expect(
            SecureBootProbe().collect(in: ProbeContext(root: on, now: Date())).value
                == SecureBootFacts(firmware: "uefi", enabled: true, setupMode: false))
        let setup = try tree(
            "sb-setup",
            [
                "/sys/firmware/efi/efivars/SecureBoot-\(guid)": [6, 0, 0, 0, 1],
                "/sys/firmware/efi/efivars/SetupMode-\(guid)": [6, 0, 0, 0, 1],
            ])
        #expect(SecureBootProbe().collect(in: ProbeContext(root: setup, now: Date())).value?.enabled == false)
        let bios = try tree("sb-bios", ["/sys/class/.keep": []])
        #expect(
            SecureBootProbe().collect(in: ProbeContext(root: bios, now: Date())).value
                == SecureBootFacts(firmware: "bios", enabled: false, setupMode: nil))
        let truncated = try tree("sb-bad", ["/sys/firmware/efi/efivars/SecureBoot-\(guid)": [6, 0]])
        #expect(
            SecureBootProbe().collect(in: ProbeContext(root: truncated, now: Date())).unavailableReason?
                .contains("2 bytes") == true)
    }

    @Test func lockdownModeIsTheBracketedOne() throws {
        let root = try tree("lockdown", ["/sys/kernel/security/lockdown": text("none [integrity] confidentiality\n")])
        #expect(
            KernelLockdownProbe().collect(in: ProbeContext(root: root, now: Date())).value
                == KernelLockdownFacts(mode: "integrity", available: ["none", "integrity", "confidentiality"]))
        let missing = try tree("lockdown-none", ["/sys/.keep": []])
        #expect(
            KernelLockdownProbe().collect(in: ProbeContext(root: missing, now: Date())).unavailableReason?
                .contains("securityfs") == true)
    }

    @Test func appArmorProfilesCountedByMode() throws {
        let root = try tree(
            "lsm",
            [
                "/sys/kernel/security/lsm": text("lockdown,capability,landlock,yama,apparmor"),
                "/sys/module/apparmor/parameters/enabled": text("Y\n"),
                "/sys/kernel/security/apparmor/profiles": text(
                    "/usr/sbin/cupsd (enforce)\nnvidia_modprobe (enforce)\n/usr/bin/man (complain)\nunix-chkpwd (enforce)\n"
                ),
            ])
        #expect(
            SecurityModulesProbe().collect(in: ProbeContext(root: root, now: Date())).value
                == SecurityModuleFacts(
                    active: ["lockdown", "capability", "landlock", "yama", "apparmor"],
                    appArmor: AppArmorState(enabled: true, profiles: ["enforce": 3, "complain": 1]), selinux: nil))
    }

    @Test func sshdFirstValueWinsIncludesAndMatchBlocks() throws {
        let root = try tree(
            "sshd",
            [
                "/usr/sbin/sshd": [],
                "/etc/ssh/sshd_config": text(
                    """
                    Include /etc/ssh/sshd_config.d/*.conf
                    PermitRootLogin yes
                    PasswordAuthentication yes
                    KbdInteractiveAuthentication no
                    X11Forwarding yes
                    Match User backup
                        PasswordAuthentication yes
                        MaxAuthTries 1
                    """),
                "/etc/ssh/sshd_config.d/50-hardening.conf": text("passwordauthentication no\nPermitRootLogin=no\n"),
                "/etc/ssh/sshd_config.d/90-later.conf": text("PermitRootLogin prohibit-password\n"),
                "/etc/ssh/sshd_config.d/README": text("not included: no .conf\nPermitRootLogin yes\n"),
            ])
        let facts = try #require(SSHDProbe().collect(in: ProbeContext(root: root, now: Date())).value)
        #expect(facts.installed)
        #expect(facts.permitRootLogin == "no")
        #expect(!facts.passwordAuthentication)
        #expect(!facts.kbdInteractiveAuthentication)
        #expect(facts.x11Forwarding)
        #expect(facts.maxAuthTries == 6)  // only inside Match: the default stands
        #expect(facts.matchBlocks == 1)
        #expect(
            facts.files == [
                "/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d/50-hardening.conf",
                "/etc/ssh/sshd_config.d/90-later.conf",
            ])
    }

    @Test func sshdDefaultsWithoutConfig() throws {
        let root = try tree("sshd-none", ["/etc/.keep": []])
        let facts = try #require(SSHDProbe().collect(in: ProbeContext(root: root, now: Date())).value)
        #expect(!facts.installed && facts.permitRootLogin == "prohibit-password" && facts.passwordAuthentication)
    }
}
