import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A named grant of just-in-time access, from the policy file's `access.grants`: who may ask, from which
/// devices, what they get (SSH principals, a sudo role), for how long at most, under which conditions and
/// with whose approval. Documented key by key in `etc/posture/policy.yaml`.
public struct AccessGrant: Sendable, Equatable {
    public var name: String
    public var description: String?
    /// Local user names on the device that may ask; empty with `groups` empty means nobody.
    public var users: [String] = []
    /// Local groups on the device whose members may ask (as the agent resolves them).
    public var groups: [String] = []
    /// The device must carry all these labels (same matching as a rule's `labels`).
    public var deviceLabels: [String: String] = [:]
    /// Principals of the SSH certificate; `${user}` stands for the asking user's name. Empty: no SSH.
    public var sshPrincipals: [String] = []
    /// The sudo role: absolute command paths, or `ALL`. Nil: no sudo.
    public var sudoCommands: [String]?
    /// The longest a grant may last; a request may ask for less.
    public var maxDuration: Duration
    /// The verdict's risk score may be at most this (0–100).
    public var maxRisk: Int = 100
    /// `auto`: granted at once when the conditions hold; `operator`: waits for `posturectl access approve`.
    public var approval: Approval = .auto
    /// The policy file's line the grant starts on, for messages.
    public var line: Int = 0

    public enum Approval: String, Sendable, Equatable {
        case auto
        case `operator`
    }

    public init(name: String, maxDuration: Duration) {
        self.name = name
        self.maxDuration = maxDuration
    }

    /// Whether this user (with these groups) on a device with these labels may ask for the grant.
    public func admits(user: String, groups userGroups: [String], deviceLabels labels: [String: String]) -> Bool {
        let byName = users.contains(user) || !Set(groups).isDisjoint(with: userGroups)
        return byName && Rule.labels(deviceLabels, match: labels)
    }

    /// The SSH principals for this user: `${user}` replaced by the user's name.
    public func principals(for user: String) -> [String] {
        sshPrincipals.map { $0 == "${user}" ? user : $0 }
    }
}

/// Why a request for access is refused: stable codes (PROTOCOL.md, "Access") with the reason in words.
public struct AccessRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case unknownGrant = "unknown-grant"
        case notAdmitted = "not-admitted"
        case noSSH = "grant-has-no-ssh"
        case noSudo = "grant-has-no-sudo"
        case notCompliant = "device-not-compliant"
        case riskTooHigh = "risk-too-high"
        case badRequest = "bad-request"
        case needsApproval = "needs-approval"
    }

    public var code: Code
    public var reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code.rawValue): \(reason)" }
}

extension Policy {
    /// Checks a request for an SSH certificate against the grant and the device's current verdict; the
    /// certificate's lifetime is the shortest of the request, the grant and the verdict's.
    public func sshGrant(
        _ name: String, user: String, groups: [String], deviceLabels: [String: String], verdict: Verdict,
        requested: Duration?, now: Date
    ) throws(AccessRefusal) -> (grant: AccessGrant, principals: [String], until: Date) {
        let grant = try admittedGrant(name, user: user, groups: groups, deviceLabels: deviceLabels)
        guard !grant.sshPrincipals.isEmpty else {
            throw AccessRefusal(.noSSH, "grant \(name) gives no SSH principals (access.grants: ssh.principals)")
        }
        try Self.check(verdict, for: grant)
        guard grant.approval == .auto else {
            throw AccessRefusal(
                .needsApproval,
                "grant \(name) needs an operator's approval; SSH certificates are issued only by auto grants")
        }
        let lifetime = try Self.lifetime(grant, requested: requested)
        // The verdict's expiry is when it changes by itself (its report ages out, a grace period or waiver
        // ends), not the JWT's short exp: a change before that reaches target hosts through the KRL.
        var until = now.addingTimeInterval(lifetime.seconds)
        if let changes = verdict.reevaluateAt { until = min(until, changes) }
        // Certificates count whole seconds: less than one left would be a certificate valid for none.
        guard until.timeIntervalSince1970.rounded(.down) > now.timeIntervalSince1970.rounded(.down) else {
            throw AccessRefusal(
                .notCompliant, "the device's verdict expires within a second; ask again after its next report")
        }
        return (grant, grant.principals(for: user), until)
    }
}

extension Policy {
    /// Checks a request for a sudo role: the grant, the user, the device's verdict now. Granted at once
    /// (`auto`) or waiting for an operator; either way for the shorter of the request and the grant.
    public func sudoGrant(
        _ name: String, user: String, groups: [String], deviceLabels: [String: String], verdict: Verdict,
        requested: Duration?
    ) throws(AccessRefusal) -> (grant: AccessGrant, commands: [String], lifetime: Duration) {
        let grant = try admittedGrant(name, user: user, groups: groups, deviceLabels: deviceLabels)
        guard let commands = grant.sudoCommands else {
            throw AccessRefusal(.noSudo, "grant \(name) gives no sudo role (access.grants: sudo.commands)")
        }
        try Self.check(verdict, for: grant)
        return (grant, commands, try Self.lifetime(grant, requested: requested))
    }

    /// At an operator's approval the conditions are checked again: the grant still gives sudo, and the
    /// device is compliant and within the grant's risk now, not only when the user asked.
    public func sudoApproval(_ name: String, verdict: Verdict) throws(AccessRefusal) -> AccessGrant {
        guard let grant = grants.first(where: { $0.name == name }) else {
            throw AccessRefusal(.unknownGrant, "grant '\(name)' is no longer in the policy's access.grants")
        }
        guard grant.sudoCommands != nil else {
            throw AccessRefusal(.noSudo, "grant \(name) no longer gives a sudo role (access.grants: sudo.commands)")
        }
        try Self.check(verdict, for: grant)
        return grant
    }

    /// The grant by name, if this user on this device may ask for it.
    func admittedGrant(_ name: String, user: String, groups: [String], deviceLabels: [String: String])
        throws(AccessRefusal) -> AccessGrant
    {
        guard let grant = grants.first(where: { $0.name == name }) else {
            throw AccessRefusal(
                .unknownGrant,
                "no grant named '\(name)' in the policy's access.grants; `posture-collector policy check` lists them")
        }
        guard grant.admits(user: user, groups: groups, deviceLabels: deviceLabels) else {
            throw AccessRefusal(
                .notAdmitted,
                "user '\(user)' on this device is not among grant \(name)'s users, groups or device labels")
        }
        return grant
    }

    /// The device's conditions: compliant, and within the grant's risk.
    static func check(_ verdict: Verdict, for grant: AccessGrant) throws(AccessRefusal) {
        guard verdict.status == .compliant else {
            let failing = verdict.failing.map(\.rule).joined(separator: ", ")
            let why =
                verdict.quarantine.map { " (quarantined: \($0.reason))" }
                ?? (failing.isEmpty ? "" : " (failing: \(failing))")
            throw AccessRefusal(
                .notCompliant,
                "the device is \(verdict.status.rawValue)\(why); access is granted only to a compliant device")
        }
        guard verdict.risk <= grant.maxRisk else {
            throw AccessRefusal(
                .riskTooHigh,
                "the device's risk is \(verdict.risk), grant \(grant.name) allows at most \(grant.maxRisk)")
        }
    }

    /// The grant's longest, or less when asked; at least a second.
    static func lifetime(_ grant: AccessGrant, requested: Duration?) throws(AccessRefusal) -> Duration {
        guard let requested else { return grant.maxDuration }
        guard requested >= .seconds(1) else {
            throw AccessRefusal(.badRequest, "the requested duration must be at least 1s")
        }
        return min(grant.maxDuration, requested)
    }
}
