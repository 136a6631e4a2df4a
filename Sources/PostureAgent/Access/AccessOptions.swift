/// Just-in-time access on this device (the `access` section of agent.yaml).
public struct AccessOptions: Sendable, Equatable {
    /// The unix socket `posturectl ssh certificate` asks on; nil: none. Mode 0666, for every local user
    /// may ask: the kernel tells the agent who asks (SO_PEERCRED), and the collector decides by grant.
    public var socket: String?
    /// Where this host's sshd reads revoked keys (`RevokedKeys`): the agent keeps the collector's KRL
    /// there. Nil: this host is not an SSH target for posture certificates.
    public var revokedKeysFile: String?
    /// How often the KRL is fetched (a request answered 304 while it is unchanged).
    public var krlRefresh: Duration = .seconds(5)
    /// On a target host, where the collector's SSH user CA key is kept for sshd's `TrustedUserCAKeys`;
    /// nil: beside the KRL, as `ssh-user-ca.pub` (what the shipped sshd drop-in names).
    public var trustedUserCAKeysFile: String?
    /// The sudoers include directory time-bound sudo grants are written to (`/etc/sudoers.d`); nil: this
    /// device grants no sudo.
    public var sudoersDirectory: String?
    /// What checks a drop-in before it is installed.
    public var visudo = "/usr/sbin/visudo"
    /// How often the grants are followed while one is in force or a request waits for an operator.
    public var grantRefresh: Duration = .seconds(5)

    public init() {}

    /// The socket the shipped configuration and posturectl agree on.
    public static let defaultSocket = "/run/postured/access.sock"
}
