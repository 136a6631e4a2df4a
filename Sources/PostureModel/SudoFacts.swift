/// Who can use sudo on the device, and by which rule: the standing privileges just-in-time grants are
/// meant to replace, visible per device so a fleet can see what is still standing.
public struct SudoFacts: Sendable, Codable, Equatable {
    /// Is sudo installed (`/usr/bin/sudo`)?
    public var installed: Bool
    /// Users a sudoers rule Posture did not write lets use sudo, sorted: groups resolved to their members
    /// from /etc/group and /etc/passwd, `#uid` to its name. `root` is left out (it needs no sudo). `ALL`
    /// when a rule is for every user; `%group` or `+netgroup` when its members are not in local files.
    public var standingUsers: [String]
    /// Those rules: who, as written, and where (`file:line`); at most 256.
    public var rules: [SudoRuleFact]
    /// Rules in force from Posture's own drop-ins (time-bound grants, `posture-grant-*`).
    public var postureGrants: Int
    /// The files read, in order (`/etc/sudoers` and its includes).
    public var files: [String]

    public init(
        installed: Bool, standingUsers: [String], rules: [SudoRuleFact], postureGrants: Int, files: [String]
    ) {
        self.installed = installed
        self.standingUsers = standingUsers
        self.rules = rules
        self.postureGrants = postureGrants
        self.files = files
    }
}

/// One sudoers user specification outside Posture's grants.
public struct SudoRuleFact: Sendable, Codable, Equatable {
    /// The user list as written (`%sudo`, `alice, bob`, `ADMINS`).
    public var who: String
    /// `file:line`.
    public var at: String

    public init(who: String, at: String) {
        self.who = who
        self.at = at
    }
}
