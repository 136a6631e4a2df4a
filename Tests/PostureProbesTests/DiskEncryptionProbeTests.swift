import Foundation
import PostureLinux
import PostureModel
import TestSupport
import Testing

@testable import PostureProbes

/// The disk probe against `lsblk -J` (util-linux reads the same sysfs and mountinfo with its own code):
/// on the live machine, and on fixture trees captured in a QEMU guest with real dm-crypt, LVM, btrfs and
/// NVMe (`packaging/testbed/qemu/capture-disk-fixtures.sh`), each with the layout's ground truth.
@Suite struct DiskEncryptionProbeTests {
    static let fixtures = Paths.packageRoot.appendingPathComponent("Tests/PostureProbesTests/Fixtures/disk")

    static var layouts: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: fixtures.path)) ?? []).filter {
            FileManager.default.fileExists(atPath: fixtures.appendingPathComponent("\($0)/expected.json").path)
        }.sorted()
    }

    @Test(Requirement.available(programs: ["lsblk"]))
    func liveMachineAgreesWithLsblk() throws {
        let output = try Shell.run(["lsblk", "-J", "-o", "NAME,KNAME,TYPE,MAJ:MIN,PKNAME,MOUNTPOINTS"]).stdout
        let facts = try DiskEncryptionProbe().facts(root: HostRoot())
        try expectAgreement(facts, lsblkJSON: output)
    }

    @Test func fixturesCoverTheRequiredLayouts() {
        let required = ["luks2-root", "lvm-on-luks", "luks-on-lvm", "btrfs-nvme-luks", "plain-root-encrypted-loop"]
        #expect(
            Set(required).isSubset(of: Set(Self.layouts)),
            "missing fixtures: \(Set(required).subtracting(Self.layouts))")
    }

    @Test(arguments: layouts)
    func fixtureMatchesGroundTruthAndLsblk(layout: String) throws {
        let directory = Self.fixtures.appendingPathComponent(layout)
        let facts = try DiskEncryptionProbe().facts(root: HostRoot(directory.path))
        let expected =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: directory.appendingPathComponent("expected.json"))) as! [String: Any]

        #expect(facts.rootEncrypted.value == expected["rootEncrypted"] as? Bool, "\(layout): root")
        if let home = expected["homeEncrypted"] as? Bool {
            #expect(facts.homeEncrypted?.value == home, "\(layout): /home")
        } else {
            #expect(facts.homeEncrypted == nil, "\(layout): /home is not separate")
        }
        if let swap = expected["allSwapEncrypted"] as? Bool {
            #expect(facts.allSwapEncrypted.value == swap, "\(layout): swap")
            #expect(!facts.swaps.isEmpty)
        } else {
            #expect(facts.swaps.isEmpty && facts.allSwapEncrypted.value == true, "\(layout): no swap")
        }
        let lsblk = try String(contentsOf: directory.appendingPathComponent("lsblk.json"), encoding: .utf8)
        try expectAgreement(facts, lsblkJSON: lsblk)
    }

    /// Every mounted device lsblk shows has the same mount points and the same devices below it here.
    private func expectAgreement(_ facts: DiskEncryptionFacts, lsblkJSON: String) throws {
        let tree = try LsblkTree(json: lsblkJSON)
        var checked = 0
        for (kname, mounts) in tree.mountPoints {
            let swap = mounts.contains("[SWAP]")
            let points = mounts.filter { $0 != "[SWAP]" }
            if swap {
                let area = facts.swaps.first { $0.kind == .partition && $0.devices.first?.name == kname }
                #expect(area != nil, "swap on \(kname) missing")
                if let area { #expect(Self.names(area.devices) == tree.below(kname), "swap on \(kname)") }
            }
            guard !points.isEmpty else { continue }
            let volume = facts.volumes.first { $0.devices.contains { $0.name == kname } }
            guard let volume else {
                Issue.record("lsblk shows \(kname) mounted at \(points), the probe has no volume on it")
                continue
            }
            #expect(Set(volume.mountPoints).isSuperset(of: points), "\(kname): \(volume.mountPoints) vs \(points)")
            let device = volume.devices.first { $0.name == kname }!
            #expect(Self.names([device]) == tree.below(kname), "chain below \(kname)")
            checked += 1
        }
        #expect(checked > 0, "lsblk showed no mounted block device")
    }

    static func names(_ devices: [BlockDevice]) -> Set<String> {
        var result: Set<String> = []
        for device in devices {
            result.insert(device.name)
            result.formUnion(names(device.lower))
        }
        return result
    }

    @Test func dmUUIDPrefixesClassify() {
        #expect(BlockTopology.classify(dmUUID: "CRYPT-LUKS2-0123-root") == (.crypt, .luks2))
        #expect(BlockTopology.classify(dmUUID: "CRYPT-LUKS1-0123-root") == (.crypt, .luks1))
        #expect(BlockTopology.classify(dmUUID: "CRYPT-PLAIN-swap") == (.crypt, .plain))
        #expect(BlockTopology.classify(dmUUID: "CRYPT-VERITY-0123-usr") == (.verity, nil))
        #expect(BlockTopology.classify(dmUUID: "CRYPT-INTEGRITY-x") == (.integrity, nil))
        #expect(BlockTopology.classify(dmUUID: "LVM-abcdef") == (.lvm, nil))
        #expect(BlockTopology.classify(dmUUID: "") == (.deviceMapper, nil))
    }

    @Test func mountInfoEscapesAreDecoded() throws {
        let entries = try MountTable.parseMountInfo(
            "36 35 98:0 /mnt1 /mnt\\040with\\040space rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n")
        #expect(
            entries == [
                MountEntry(major: 98, minor: 0, mountPoint: "/mnt with space", fsType: "ext3", source: "/dev/root")
            ])
        #expect(throws: ProbeError.self) { try MountTable.parseMountInfo("garbage line\n") }
    }
}

/// lsblk's JSON tree: disks at the top, what is built on them as children.
struct LsblkTree {
    /// Kernel name to the kernel names of every device below it (itself included).
    private(set) var belowByName: [String: Set<String>] = [:]
    private(set) var mountPoints: [String: [String]] = [:]

    init(json: String) throws {
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        for device in object?["blockdevices"] as? [[String: Any]] ?? [] { visit(device, path: []) }
    }

    private mutating func visit(_ node: [String: Any], path: [String]) {
        let name = (node["kname"] as? String) ?? (node["name"] as? String) ?? "?"
        let chain = path + [name]
        belowByName[name, default: []].formUnion(chain)
        let mounts = (node["mountpoints"] as? [Any] ?? []).compactMap { $0 as? String }
        if !mounts.isEmpty { mountPoints[name] = mounts }
        for child in node["children"] as? [[String: Any]] ?? [] { visit(child, path: chain) }
    }

    func below(_ name: String) -> Set<String> { belowByName[name] ?? [name] }
}
