#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Who is at the device, as systemd-logind knows it: each login session, whether it is local or remote,
/// graphical, active, idle since when, and whether its screen is locked.
public struct SessionFacts: Sendable, Codable, Equatable {
    /// At most `SessionFacts.listedLimit`, graphical sessions first.
    public var sessions: [LoginSessionFacts]
    /// Every session logind lists, including those beyond the limit.
    public var total: Int

    public static let listedLimit = 256

    public init(sessions: [LoginSessionFacts], total: Int) {
        self.sessions = sessions
        self.total = total
    }
}

public struct LoginSessionFacts: Sendable, Codable, Equatable {
    public var id: String
    public var user: String
    public var uid: UInt32
    /// logind's `Type`: `tty`, `x11`, `wayland`, `mir`, `web` or `unspecified` (ssh without a terminal,
    /// services).
    public var type: String
    /// logind's `Class`: `user`, `greeter`, `lock-screen`, `background`…
    public var sessionClass: String
    public var remote: Bool
    /// The remote host, as the PAM service gave it (ssh: the client's address).
    public var remoteHost: String?
    /// The PAM service that opened the session: `sshd`, `login`, `gdm-password`…
    public var service: String
    /// `XDG_SESSION_DESKTOP`: `gnome`, `KDE`, `i3`…; nil when the session named none.
    public var desktop: String?
    public var active: Bool
    /// logind's `IdleHint`: set by the desktop for graphical sessions, derived from the terminal for tty ones.
    public var idle: Bool
    /// When the session became idle (`IdleSinceHint`): nil when it never was, or logind does not know.
    public var idleSince: Date?
    public var locked: ScreenLock
    /// When the session began.
    public var since: Date?

    public init(
        id: String, user: String, uid: UInt32, type: String, sessionClass: String, remote: Bool,
        remoteHost: String?, service: String, desktop: String?, active: Bool, idle: Bool, idleSince: Date?,
        locked: ScreenLock, since: Date?
    ) {
        self.id = id
        self.user = user
        self.uid = uid
        self.type = type
        self.sessionClass = sessionClass
        self.remote = remote
        self.remoteHost = remoteHost
        self.service = service
        self.desktop = desktop
        self.active = active
        self.idle = idle
        self.idleSince = idleSince
        self.locked = locked
        self.since = since
    }

    enum CodingKeys: String, CodingKey {
        case id, user, uid, type
        case sessionClass = "class"
        case remote, remoteHost, service, desktop, active, idle, idleSince, locked, since
    }

    /// A session with a screen to lock: X11, Wayland or Mir, of a user (not a greeter or a lock screen).
    public var graphical: Bool {
        ["x11", "wayland", "mir"].contains(type) && sessionClass == "user"
    }
}

/// Whether a session's screen is locked. logind's `LockedHint` is false until someone sets it, and only
/// some desktops do: where the desktop is not one known to keep it, "false" is `unknown`, not `unlocked`.
public enum ScreenLock: String, Sendable, Codable, Equatable {
    case locked
    case unlocked
    case unknown
    /// Not a graphical session: there is no screen to lock.
    case notApplicable = "not-applicable"
}
