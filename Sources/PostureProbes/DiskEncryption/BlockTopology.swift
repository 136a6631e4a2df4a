import PostureLinux
import PostureModel

/// Walks sysfs from a block device down to the physical devices it is built on: device-mapper and md
/// devices through `slaves/`, a partition to its disk, a loop device to its backing file.
struct BlockTopology {
    let root: HostRoot

    /// The device with this `MAJOR:MINOR` (`/sys/dev/block/MAJOR:MINOR`).
    func device(number: String) throws(SystemError) -> BlockDevice {
        try build(sysPath: root.canonicalPath("/sys/dev/block/\(number)"), depth: 0)
    }

    /// The device with this kernel name (`/sys/class/block/NAME`).
    func device(named name: String) throws(SystemError) -> BlockDevice {
        try build(sysPath: root.canonicalPath("/sys/class/block/\(name)"), depth: 0)
    }

    /// The kernel name behind a device path such as `/dev/mapper/root`, `/dev/nvme0n1p2` or `/dev/dm-3`.
    func kernelName(forDevicePath path: String) -> String? {
        if path.hasPrefix("/dev/mapper/") {
            let dmName = String(path.dropFirst("/dev/mapper/".count))
            if let resolved = try? root.canonicalPath(path), resolved.hasPrefix("/dev/") {
                let name = String(resolved.dropFirst("/dev/".count))
                if root.exists("/sys/class/block/\(name)") { return name }
            }
            // No /dev (a fixture, or a private /dev): find the dm device by its name.
            let candidates = (try? root.contentsOfDirectory("/sys/class/block")) ?? []
            return candidates.first { (try? root.readAttribute("/sys/class/block/\($0)/dm/name")) == dmName }
        }
        guard path.hasPrefix("/dev/") else { return nil }
        if let resolved = try? root.canonicalPath(path), resolved.hasPrefix("/dev/") {
            let name = String(resolved.dropFirst("/dev/".count))
            if root.exists("/sys/class/block/\(name)") { return name }
        }
        let name = String(path.split(separator: "/").last ?? "")
        return root.exists("/sys/class/block/\(name)") ? name : nil
    }

    /// Every member device of the btrfs filesystem that `name` belongs to (`/sys/fs/btrfs/*/devices`).
    func btrfsMembers(of name: String) -> [String] {
        guard let filesystems = try? root.contentsOfDirectory("/sys/fs/btrfs") else { return [name] }
        for fsid in filesystems {
            guard let members = try? root.contentsOfDirectory("/sys/fs/btrfs/\(fsid)/devices") else { continue }
            if members.contains(name) { return members }
        }
        return [name]
    }

    private func build(sysPath: String, depth: Int) throws(SystemError) -> BlockDevice {
        guard depth < 16 else {
            throw SystemError(
                code: .malformed, call: "walk sysfs", subject: sysPath, detail: "block device chain deeper than 16")
        }
        let name = String(sysPath.split(separator: "/").last ?? "")
        let number = (try? root.readAttribute("\(sysPath)/dev")) ?? "?"
        var device = BlockDevice(name: name, number: number, kind: .disk)

        if root.isDirectory("\(sysPath)/dm") {
            let uuid = (try? root.readAttribute("\(sysPath)/dm/uuid")) ?? ""
            device.dmName = try? root.readAttribute("\(sysPath)/dm/name")
            device.dmUUID = uuid.isEmpty ? nil : uuid
            (device.kind, device.encryption) = Self.classify(dmUUID: uuid)
            device.lower = try slaves(of: sysPath, depth: depth)
        } else if root.isDirectory("\(sysPath)/loop") {
            device.kind = .loop
            device.backingFile = try? root.readAttribute("\(sysPath)/loop/backing_file")
        } else if root.isDirectory("\(sysPath)/md") {
            device.kind = .raid
            device.lower = try slaves(of: sysPath, depth: depth)
        } else if root.exists("\(sysPath)/partition") {
            device.kind = .partition
            let parent = String(sysPath[..<(sysPath.lastIndex(of: "/") ?? sysPath.endIndex)])
            device.lower = [try build(sysPath: parent, depth: depth + 1)]
        } else if name.hasPrefix("zram") {
            device.kind = .zram
        } else {
            device.lower = try slaves(of: sysPath, depth: depth)
            if !device.lower.isEmpty { device.kind = .other }
        }
        return device
    }

    private func slaves(of sysPath: String, depth: Int) throws(SystemError) -> [BlockDevice] {
        guard root.isDirectory("\(sysPath)/slaves") else { return [] }
        var lower: [BlockDevice] = []
        for slave in try root.contentsOfDirectory("\(sysPath)/slaves") {
            lower.append(try build(sysPath: root.canonicalPath("\(sysPath)/slaves/\(slave)"), depth: depth + 1))
        }
        return lower
    }

    /// Device-mapper UUID prefixes: cryptsetup `CRYPT-<TYPE>-…`, LVM `LVM-…`, multipath `mpath-…`,
    /// kpartx `partN-…`. VERITY, INTEGRITY and SUBDEV are cryptsetup's but protect integrity, not secrecy.
    static func classify(dmUUID uuid: String) -> (BlockDevice.Kind, EncryptionKind?) {
        if uuid.hasPrefix("CRYPT-") {
            let type = uuid.dropFirst("CRYPT-".count).prefix(while: { $0 != "-" })
            switch type {
            case "LUKS1": return (.crypt, .luks1)
            case "LUKS2": return (.crypt, .luks2)
            case "PLAIN": return (.crypt, .plain)
            case "BITLK": return (.crypt, .bitlocker)
            case "TCRYPT": return (.crypt, .truecrypt)
            case "VERITY": return (.verity, nil)
            case "INTEGRITY", "SUBDEV": return (.integrity, nil)
            default: return (.crypt, .otherCrypt)
            }
        }
        if uuid.hasPrefix("LVM-") { return (.lvm, nil) }
        if uuid.hasPrefix("mpath-") { return (.multipath, nil) }
        if uuid.hasPrefix("part"), uuid.dropFirst(4).first?.isNumber == true { return (.partition, nil) }
        return (.deviceMapper, nil)
    }
}
