import PostureLinux
import PostureModel

/// Encryption at rest: for every mounted block-backed filesystem and every active swap area, the chain
/// of block devices below it, and whether every path down that chain crosses a dm-crypt layer.
public struct DiskEncryptionProbe: Probe {
    static let source = "/proc/self/mountinfo, /proc/swaps, /sys/class/block"

    public init() {}

    public func collect(in context: ProbeContext) -> Fact<DiskEncryptionFacts> {
        .reading(Self.source) { try facts(root: context.root) }
    }

    struct Placement {
        var entry: MountEntry
        var volume: Result<Int, SystemError>?
    }

    func facts(root: HostRoot) throws -> DiskEncryptionFacts {
        let topology = BlockTopology(root: root)
        let mounts = try MountTable.parseMountInfo(root.readText("/proc/self/mountinfo"))

        var volumes: [MountedVolume] = []
        var volumeIndexByKey: [[String]: Int] = [:]
        // Every mount at each mount point, in mountinfo order (the last one is on top), with its volume:
        // nil when not block-backed, a failure when its devices could not be followed.
        var mountsAt: [String: [Placement]] = [:]

        for entry in mounts {
            let devices: [BlockDevice]
            do {
                guard let resolved = try resolveDevices(entry, topology) else {
                    mountsAt[entry.mountPoint, default: []].append(Placement(entry: entry, volume: nil))
                    continue
                }
                devices = resolved
            } catch {
                mountsAt[entry.mountPoint, default: []].append(Placement(entry: entry, volume: .failure(error)))
                continue
            }
            let key = devices.map(\.name).sorted()
            let index: Int
            if let existing = volumeIndexByKey[key] {
                index = existing
                if !volumes[index].mountPoints.contains(entry.mountPoint) {
                    volumes[index].mountPoints.append(entry.mountPoint)
                }
            } else {
                index = volumes.count
                volumeIndexByKey[key] = index
                volumes.append(
                    MountedVolume(
                        mountPoints: [entry.mountPoint], fsType: entry.fsType, source: entry.source, devices: devices,
                        encrypted: devices.allSatisfy(\.isEncrypted),
                        encryption: Self.layers(devices)))
            }
            mountsAt[entry.mountPoint, default: []].append(Placement(entry: entry, volume: .success(index)))
        }

        // Every filesystem stacked on a mount point must be encrypted: one mounted over an unencrypted
        // root (an encrypted loop device, say) hides the root's files but does not encrypt them.
        func encryption(at mountPoint: String) -> Fact<Bool>? {
            guard let placements = mountsAt[mountPoint] else { return nil }
            var unknown: [String] = []
            for placement in placements {
                switch placement.volume {
                case .success(let index):
                    if !volumes[index].encrypted { return .observed(false, source: Self.source) }
                case .failure(let error):
                    unknown.append("the block device under \(mountPoint) could not be followed: \(error)")
                case nil:
                    unknown.append(
                        "\(mountPoint) is \(placement.entry.fsType) from \(placement.entry.source), not a block "
                            + "device, so what stores its data cannot be checked from this host")
                }
            }
            if !unknown.isEmpty { return .unavailable(reason: unknown.joined(separator: "; "), source: Self.source) }
            return .observed(true, source: Self.source)
        }

        let swapsText = try root.readText("/proc/swaps")
        var swaps: [SwapArea] = []
        var swapProblems: [String] = []
        for swap in MountTable.parseSwaps(swapsText) {
            do {
                swaps.append(try swapArea(swap, topology: topology, mounts: mountsAt, volumes: volumes))
            } catch {
                swapProblems.append("\(swap.path): \(error)")
            }
        }

        return DiskEncryptionFacts(
            rootEncrypted: encryption(at: "/")
                ?? .unavailable(reason: "/proc/self/mountinfo has no mount at /", source: Self.source),
            homeEncrypted: encryption(at: "/home"),
            allSwapEncrypted: swapProblems.isEmpty
                ? .observed(swaps.allSatisfy(\.encrypted), source: "/proc/swaps")
                : .unavailable(
                    reason: "swap could not be followed to its device: \(swapProblems.joined(separator: "; "))",
                    source: "/proc/swaps"),
            volumes: volumes,
            swaps: swaps)
    }

    /// The devices under a mount, or nil when it is not block-backed.
    private func resolveDevices(_ entry: MountEntry, _ topology: BlockTopology) throws(SystemError) -> [BlockDevice]? {
        if entry.hasBlockNumber {
            return [try topology.device(number: "\(entry.major):\(entry.minor)")]
        }
        // btrfs reports an anonymous device number; its source names a member device.
        guard entry.source.hasPrefix("/dev/"), let name = topology.kernelName(forDevicePath: entry.source) else {
            return nil
        }
        let members = entry.fsType == "btrfs" ? topology.btrfsMembers(of: name) : [name]
        var devices: [BlockDevice] = []
        for member in members { devices.append(try topology.device(named: member)) }
        return devices
    }

    private func swapArea(
        _ swap: MountTable.SwapEntry, topology: BlockTopology,
        mounts: [String: [Placement]], volumes: [MountedVolume]
    ) throws -> SwapArea {
        if swap.type == "partition" {
            guard let name = topology.kernelName(forDevicePath: swap.path) else {
                throw ProbeError("no block device in /sys/class/block for \(swap.path)")
            }
            let device = try topology.device(named: name)
            return SwapArea(
                path: swap.path, kind: .partition, sizeKiB: swap.sizeKiB, devices: [device],
                encrypted: device.isEncrypted, encryption: Self.layers([device]))
        }
        // A swap file is as safe as the filesystem holding it. That is the mount that was on top at its
        // path when swapon ran, which mountinfo cannot tell: a filesystem mounted over a directory of the
        // path later hides the holder, and /proc/swaps (d_path from the file's own mount) reads the same
        // either way. So every mount that could hold it counts: each one at a directory of the path, on
        // top or hidden, except those that cannot hold a swap file at all.
        let candidates = mounts.keys.filter { Self.path(swap.path, isBelow: $0) }.sorted().flatMap {
            (mounts[$0] ?? []).filter { !Self.cannotHoldSwapFiles.contains($0.entry.fsType) }
        }
        guard !candidates.isEmpty else { throw ProbeError("no mount holds the swap file") }
        var indices: [Int] = []
        for placement in candidates {
            switch placement.volume {
            case .success(let index):
                if !indices.contains(index) { indices.append(index) }
            case .failure(let error):
                throw ProbeError("the block device of \(placement.entry.mountPoint) could not be followed: \(error)")
            case nil:
                throw ProbeError(
                    "the swap file may be on \(placement.entry.fsType) from \(placement.entry.source) at "
                        + "\(placement.entry.mountPoint), not a block device")
            }
        }
        let devices = indices.flatMap { volumes[$0].devices }
        return SwapArea(
            path: swap.path, kind: .file, sizeKiB: swap.sizeKiB, devices: devices,
            encrypted: indices.allSatisfy { volumes[$0].encrypted }, encryption: Self.layers(devices))
    }

    /// Filesystems the kernel cannot activate a swap file on (no `swap_activate` or `bmap`): memory-backed,
    /// virtual, stacked or read-only ones. A mount of one of these over the path hides nothing that matters.
    static let cannotHoldSwapFiles: Set<String> = [
        "tmpfs", "ramfs", "devtmpfs", "proc", "sysfs", "devpts", "overlay", "squashfs", "erofs", "iso9660",
        "cgroup", "cgroup2", "securityfs", "debugfs", "tracefs", "configfs", "fusectl", "mqueue", "hugetlbfs",
        "pstore", "bpf", "autofs", "efivarfs", "binfmt_misc", "nsfs",
    ]

    static func path(_ path: String, isBelow mountPoint: String) -> Bool {
        mountPoint == "/" || path == mountPoint || path.hasPrefix(mountPoint + "/")
    }

    static func layers(_ devices: [BlockDevice]) -> [EncryptionKind] {
        var layers: [EncryptionKind] = []
        for device in devices {
            for layer in device.encryptionLayers where !layers.contains(layer) { layers.append(layer) }
        }
        return layers
    }
}
