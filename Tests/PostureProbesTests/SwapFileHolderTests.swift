import Foundation
import PostureLinux
import PostureModel
import TestSupport
import Testing

@testable import PostureProbes

/// A swap file belongs to the filesystem that holds it, not to whatever is mounted over its directory
/// later: the QEMU-captured sysfs trees with a mountinfo and /proc/swaps written for each case.
@Suite struct SwapFileHolderTests {
    /// `plain-root-encrypted-loop`: 254:21 is an unencrypted ext4, 253:1 a LUKS2 volume in a loop file.
    static let plainRoot = "186 161 254:21 / / rw,relatime - ext4 /dev/vdb5 rw"
    static let vault = "253:1 / MOUNTPOINT rw,relatime - ext4 /dev/mapper/vault rw"

    private func swapEncrypted(layout: String, mountinfo: [String], swapFile: String) throws -> Fact<Bool> {
        let source = DiskEncryptionProbeTests.fixtures.appendingPathComponent(layout)
        let root = try Paths.temporaryDirectory("swap-holder").appendingPathComponent(layout)
        try FileManager.default.copyItem(at: source, to: root)
        try (mountinfo.joined(separator: "\n") + "\n").write(
            to: root.appendingPathComponent("proc/self/mountinfo"), atomically: true, encoding: .utf8)
        try "Filename\tType\tSize\tUsed\tPriority\n\(swapFile)\tfile\t32748\t0\t-2\n".write(
            to: root.appendingPathComponent("proc/swaps"), atomically: true, encoding: .utf8)
        return try DiskEncryptionProbe().facts(root: HostRoot(root.path)).allSwapEncrypted
    }

    @Test func anEncryptedFilesystemMountedOverTheDirectoryDoesNotEncryptTheSwapFile() throws {
        let swap = try swapEncrypted(
            layout: "plain-root-encrypted-loop",
            mountinfo: [
                Self.plainRoot, "187 186 " + Self.vault.replacingOccurrences(of: "MOUNTPOINT", with: "/var/swap"),
            ],
            swapFile: "/var/swap/swapfile")
        #expect(swap.value == false)
    }

    @Test func anEncryptedFilesystemStackedOverTheRootDoesNotEncryptTheSwapFile() throws {
        let swap = try swapEncrypted(
            layout: "plain-root-encrypted-loop",
            mountinfo: [Self.plainRoot, "187 186 " + Self.vault.replacingOccurrences(of: "MOUNTPOINT", with: "/")],
            swapFile: "/swapfile")
        #expect(swap.value == false)
    }

    @Test func aSwapFileInsideAnEncryptedMountOnAnEncryptedRootIsEncrypted() throws {
        // `encrypted-swapfile`: 253:0 is LUKS2. A tmpfs over the directory cannot hold a swap file.
        let swap = try swapEncrypted(
            layout: "encrypted-swapfile",
            mountinfo: [
                "185 160 253:0 / / rw,relatime - ext4 /dev/mapper/cryptroot rw",
                "190 185 0:23 / /var/swap rw,nosuid,nodev - tmpfs tmpfs rw,inode64",
            ],
            swapFile: "/var/swap/swapfile")
        #expect(swap.value == true)
    }
}
