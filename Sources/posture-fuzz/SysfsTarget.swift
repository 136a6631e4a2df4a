#if DEBUG
    import Foundation
    import PostureLinux
    import PostureModel
    @testable import PostureProbes

    /// The disk probe over a small sysfs/procfs tree whose text comes from the input: the fields, separated
    /// by NUL bytes, are dm-0's `dm/uuid`, `dm/name` and `dev`, the partition's `dev`, `/proc/self/mountinfo`,
    /// `/proc/swaps` and the target of dm-0's `slaves/` link (a missing field keeps the tree's default). The
    /// probe walks the tree (BlockTopology: dev numbers, dm UUID classes, links resolved inside the root),
    /// and the facts are rendered and evaluated.
    enum SysfsTarget {
        static let defaults = [
            "CRYPT-LUKS2-6c2f1d4a9b8e4f7a8c3d2e1f0a9b8c7d-root", "root", "253:0", "254:2",
            "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/root rw\n"
                + "23 22 254:2 / /boot rw,relatime shared:2 - ext4 /dev/vda2 rw\n"
                + "24 22 0:21 / /proc rw,nosuid shared:3 - proc proc rw\n",
            "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/dm-0 partition\t1048572\t0\t-2\n",
            "../../../../pci0/block/vda/vda2",
        ]

        /// The tree, made once per process under $TMPDIR.
        static let root: String = {
            let root = NSTemporaryDirectory() + "/posture-fuzz-sysfs-\(getpid())"
            let manager = FileManager.default
            do {
                for directory in [
                    "/sys/devices/virtual/block/dm-0/dm", "/sys/devices/virtual/block/dm-0/slaves",
                    "/sys/devices/pci0/block/vda/vda2", "/sys/dev/block", "/sys/class/block", "/proc/self", "/dev",
                ] {
                    try manager.createDirectory(atPath: root + directory, withIntermediateDirectories: true)
                }
                try "254:0\n".write(
                    toFile: root + "/sys/devices/pci0/block/vda/dev", atomically: false, encoding: .utf8)
                try "2\n".write(
                    toFile: root + "/sys/devices/pci0/block/vda/vda2/partition", atomically: false, encoding: .utf8)
                let links = [
                    ("/sys/dev/block/253:0", "../../devices/virtual/block/dm-0"),
                    ("/sys/dev/block/254:2", "../../devices/pci0/block/vda/vda2"),
                    ("/sys/dev/block/254:0", "../../devices/pci0/block/vda"),
                    ("/sys/class/block/dm-0", "../../devices/virtual/block/dm-0"),
                    ("/sys/class/block/vda", "../../devices/pci0/block/vda"),
                    ("/sys/class/block/vda2", "../../devices/pci0/block/vda/vda2"),
                ]
                for (path, target) in links {
                    try manager.createSymbolicLink(atPath: root + path, withDestinationPath: target)
                }
            } catch {
                fatalError("cannot make the sysfs tree under \(root): \(error)")
            }
            return root
        }()

        static let files = [
            "/sys/devices/virtual/block/dm-0/dm/uuid", "/sys/devices/virtual/block/dm-0/dm/name",
            "/sys/devices/virtual/block/dm-0/dev", "/sys/devices/pci0/block/vda/vda2/dev", "/proc/self/mountinfo",
            "/proc/swaps",
        ]

        static func run(_ input: [UInt8]) -> String {
            let fields = input.split(separator: 0, omittingEmptySubsequences: false)
            for (position, file) in files.enumerated() {
                let text = position < fields.count ? Data(fields[position]) : Data(defaults[position].utf8)
                _ = FileManager.default.createFile(atPath: root + file, contents: text)
            }
            let slave = root + "/sys/devices/virtual/block/dm-0/slaves/vda2"
            unlink(slave)
            let target = fields.count > 6 ? String(decoding: fields[6], as: UTF8.self) : defaults[6]
            symlink(target, slave)

            let context = ProbeContext(root: HostRoot(root), now: Fixtures.now)
            let disk = DiskEncryptionProbe().collect(in: context)
            for field in fields.prefix(1) { _ = BlockTopology.classify(dmUUID: String(decoding: field, as: UTF8.self)) }
            var report = Fixtures.baseReport
            report.diskEncryption = disk
            ReportUse.exercise(report, issuedAt: Fixtures.now)
            switch disk {
            case .observed(let facts, _):
                return
                    "root encrypted \(facts.rootEncrypted.value.map(String.init(describing:)) ?? "-"), \(facts.volumes.count) volumes"
            case .unavailable(let reason, _):
                return "unavailable: \(reason)"
            }
        }
    }
#endif
