/// UEFI Secure Boot, from the EFI variables the firmware exposes.
public struct SecureBootFacts: Sendable, Codable, Equatable {
    /// `uefi` or `bios` (no `/sys/firmware/efi`: legacy boot, so no Secure Boot).
    public var firmware: String
    public var enabled: Bool
    /// UEFI setup mode: keys can be enrolled without authentication (Secure Boot is then not enforced).
    public var setupMode: Bool?

    public init(firmware: String, enabled: Bool, setupMode: Bool?) {
        self.firmware = firmware
        self.enabled = enabled
        self.setupMode = setupMode
    }
}

/// Kernel lockdown (`/sys/kernel/security/lockdown`): `none`, `integrity` or `confidentiality`.
public struct KernelLockdownFacts: Sendable, Codable, Equatable {
    public var mode: String
    public var available: [String]

    public init(mode: String, available: [String]) {
        self.mode = mode
        self.available = available
    }
}

/// Linux security modules: which are active, and the state of AppArmor and SELinux.
public struct SecurityModuleFacts: Sendable, Codable, Equatable {
    /// `/sys/kernel/security/lsm`, e.g. `["lockdown", "capability", "landlock", "yama", "apparmor"]`.
    public var active: [String]
    public var appArmor: AppArmorState?
    public var selinux: SELinuxState?

    public init(active: [String], appArmor: AppArmorState?, selinux: SELinuxState?) {
        self.active = active
        self.appArmor = appArmor
        self.selinux = selinux
    }
}

public struct AppArmorState: Sendable, Codable, Equatable {
    public var enabled: Bool
    /// Profiles by mode (`enforce`, `complain`, `kill`, `unconfined`); nil when the list is not readable
    /// (it needs root).
    public var profiles: [String: Int]?

    public init(enabled: Bool, profiles: [String: Int]?) {
        self.enabled = enabled
        self.profiles = profiles
    }
}

public struct SELinuxState: Sendable, Codable, Equatable {
    public var enforcing: Bool

    public init(enforcing: Bool) { self.enforcing = enforcing }
}

/// OpenSSH server settings as sshd applies them: the first value obtained for a keyword wins, files
/// named by `Include` are read where they appear, and compiled-in defaults fill the rest.
public struct SSHDFacts: Sendable, Codable, Equatable {
    /// Is an sshd binary installed (`/usr/sbin/sshd`)?
    public var installed: Bool
    public var permitRootLogin: String
    public var passwordAuthentication: Bool
    public var kbdInteractiveAuthentication: Bool
    public var pubkeyAuthentication: Bool
    public var permitEmptyPasswords: Bool
    public var x11Forwarding: Bool
    public var maxAuthTries: Int
    /// `Match` blocks can override these per user or address; their presence is reported, not evaluated.
    public var matchBlocks: Int
    /// The files read, in order.
    public var files: [String]

    public init(
        installed: Bool, permitRootLogin: String, passwordAuthentication: Bool, kbdInteractiveAuthentication: Bool,
        pubkeyAuthentication: Bool, permitEmptyPasswords: Bool, x11Forwarding: Bool, maxAuthTries: Int,
        matchBlocks: Int, files: [String]
    ) {
        self.installed = installed
        self.permitRootLogin = permitRootLogin
        self.passwordAuthentication = passwordAuthentication
        self.kbdInteractiveAuthentication = kbdInteractiveAuthentication
        self.pubkeyAuthentication = pubkeyAuthentication
        self.permitEmptyPasswords = permitEmptyPasswords
        self.x11Forwarding = x11Forwarding
        self.maxAuthTries = maxAuthTries
        self.matchBlocks = matchBlocks
        self.files = files
    }
}
