/// Encryption at rest of every mounted block-backed filesystem and every active swap area.
public struct DiskEncryptionFacts: Sendable, Codable, Equatable {
    /// Is the filesystem mounted at `/` on an encrypted chain? Unavailable when `/` is not block-backed
    /// (overlay, NFS, tmpfs), since what lies beneath cannot be proven from here.
    public var rootEncrypted: Fact<Bool>
    /// Only present when `/home` is a separate mount.
    public var homeEncrypted: Fact<Bool>?
    /// True when every active swap area is encrypted or volatile (zram), and vacuously when there is none.
    public var allSwapEncrypted: Fact<Bool>
    public var volumes: [MountedVolume]
    public var swaps: [SwapArea]

    public init(
        rootEncrypted: Fact<Bool>,
        homeEncrypted: Fact<Bool>?,
        allSwapEncrypted: Fact<Bool>,
        volumes: [MountedVolume],
        swaps: [SwapArea]
    ) {
        self.rootEncrypted = rootEncrypted
        self.homeEncrypted = homeEncrypted
        self.allSwapEncrypted = allSwapEncrypted
        self.volumes = volumes
        self.swaps = swaps
    }
}

/// One block-backed filesystem, with every place it is mounted.
public struct MountedVolume: Sendable, Codable, Equatable {
    public var mountPoints: [String]
    public var fsType: String
    /// The mount source as the kernel reports it (e.g. `/dev/mapper/root`).
    public var source: String
    /// The block devices the filesystem sits on (more than one for a multi-device btrfs).
    public var devices: [BlockDevice]
    /// True when every path from the filesystem down to a physical device crosses an encryption layer.
    public var encrypted: Bool
    /// The encryption layers found on the way down, outermost first (e.g. `["luks2"]`).
    public var encryption: [EncryptionKind]

    public init(
        mountPoints: [String], fsType: String, source: String, devices: [BlockDevice], encrypted: Bool,
        encryption: [EncryptionKind]
    ) {
        self.mountPoints = mountPoints
        self.fsType = fsType
        self.source = source
        self.devices = devices
        self.encrypted = encrypted
        self.encryption = encryption
    }
}

public struct SwapArea: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, Equatable {
        case partition, file
    }

    public var path: String
    public var kind: Kind
    public var sizeKiB: Int
    /// For a partition: the device chain. For a file: the chain of the filesystem holding it.
    public var devices: [BlockDevice]
    /// Encrypted, or volatile (zram never reaches a disk).
    public var encrypted: Bool
    public var encryption: [EncryptionKind]

    public init(
        path: String, kind: Kind, sizeKiB: Int, devices: [BlockDevice], encrypted: Bool, encryption: [EncryptionKind]
    ) {
        self.path = path
        self.kind = kind
        self.sizeKiB = sizeKiB
        self.devices = devices
        self.encrypted = encrypted
        self.encryption = encryption
    }
}

/// A block device and, recursively, the devices it is built on (sysfs `slaves/`, or a partition's disk).
public struct BlockDevice: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, Equatable {
        case disk, partition, crypt, lvm, raid, loop, zram, integrity, verity, multipath
        /// A device-mapper target of another kind (e.g. a `dm-linear` made by hand).
        case deviceMapper = "dm"
        case other
    }

    /// Kernel name, e.g. `nvme0n1p3`, `dm-0`, `loop0`.
    public var name: String
    /// `MAJOR:MINOR`.
    public var number: String
    public var kind: Kind
    /// Device-mapper name (`/dev/mapper/<dmName>`), when this is a dm device.
    public var dmName: String?
    /// Device-mapper UUID, e.g. `CRYPT-LUKS2-<uuid>-<name>` or `LVM-<vg><lv>`.
    public var dmUUID: String?
    /// For a crypt device: which kind of encryption.
    public var encryption: EncryptionKind?
    /// For a loop device: the file behind it.
    public var backingFile: String?
    /// What this device is built on; empty for a physical disk or a loop device.
    public var lower: [BlockDevice]

    public init(
        name: String, number: String, kind: Kind, dmName: String? = nil, dmUUID: String? = nil,
        encryption: EncryptionKind? = nil, backingFile: String? = nil, lower: [BlockDevice] = []
    ) {
        self.name = name
        self.number = number
        self.kind = kind
        self.dmName = dmName
        self.dmUUID = dmUUID
        self.encryption = encryption
        self.backingFile = backingFile
        self.lower = lower
    }

    /// True when every path from here down crosses an encryption layer (zram counts: it is volatile).
    public var isEncrypted: Bool {
        if encryption != nil || kind == .zram { return true }
        if lower.isEmpty { return false }
        return lower.allSatisfy(\.isEncrypted)
    }

    /// Encryption layers on every path down, outermost first, without repeats.
    public var encryptionLayers: [EncryptionKind] {
        var layers: [EncryptionKind] = encryption.map { [$0] } ?? []
        for device in lower {
            for layer in device.encryptionLayers where !layers.contains(layer) { layers.append(layer) }
        }
        return layers
    }
}

/// The kind of dm-crypt layer, from the `CRYPT-<TYPE>-` prefix of its device-mapper UUID.
public enum EncryptionKind: String, Sendable, Codable, Equatable {
    case luks1, luks2, plain, bitlocker, truecrypt
    /// A CRYPT- UUID of a type this agent does not know; still dm-crypt, so still encryption.
    case otherCrypt = "other-crypt"
}
