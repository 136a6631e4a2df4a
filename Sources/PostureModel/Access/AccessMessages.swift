#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The agent asks the collector for an SSH certificate (`POST /v1/access/ssh-certificate`, mutual TLS) on
/// behalf of a local user it identified by SO_PEERCRED; the collector trusts the device for who the user
/// is, and decides by the grant and the device's current verdict.
public struct SSHCertificateRequest: Sendable, Codable, Equatable {
    public var grant: String
    public var user: String
    /// The user's local groups, as the agent resolved them (grants may admit by group).
    public var groups: [String]
    /// The public key line (`ssh-ed25519 AAAA... comment`) the user proved to hold.
    public var publicKey: String
    /// A shorter lifetime than the grant's, e.g. `10m`; nil for the grant's.
    public var duration: String?

    public init(grant: String, user: String, groups: [String], publicKey: String, duration: String?) {
        self.grant = grant
        self.user = user
        self.groups = groups
        self.publicKey = publicKey
        self.duration = duration
    }
}

/// The certificate, and what it allows, for the agent to hand to the user.
public struct SSHCertificateIssued: Sendable, Codable, Equatable {
    /// The `-cert.pub` line for stock `ssh`.
    public var certificate: String
    public var serial: UInt64
    public var keyID: String
    public var principals: [String]
    public var validAfter: Date
    public var validBefore: Date

    public init(
        certificate: String, serial: UInt64, keyID: String, principals: [String], validAfter: Date, validBefore: Date
    ) {
        self.certificate = certificate
        self.serial = serial
        self.keyID = keyID
        self.principals = principals
        self.validAfter = validAfter
        self.validBefore = validBefore
    }
}

/// What `posturectl ssh certificate` sends the local agent over its unix socket (one JSON line): the
/// key, and its proof of possession, an `ssh-keygen -Y sign` signature (namespace `posture-access`) over
/// `LocalSSHRequest.signedText`, so nobody obtains a certificate for a key they do not hold.
public struct LocalSSHRequest: Sendable, Codable, Equatable {
    public var grant: String
    public var publicKey: String
    public var duration: String?
    /// Unix seconds when signed: the agent takes a proof at most 60 s old.
    public var signedAt: Int64
    /// The armored SSHSIG (`-----BEGIN SSH SIGNATURE-----`).
    public var signature: String

    public init(grant: String, publicKey: String, duration: String?, signedAt: Int64, signature: String) {
        self.grant = grant
        self.publicKey = publicKey
        self.duration = duration
        self.signedAt = signedAt
        self.signature = signature
    }

    public static let namespace = "posture-access"

    /// What the signature covers: the user, grant, time and key, so a proof serves one request only.
    public static func signedText(user: String, grant: String, signedAt: Int64, publicKey: String) -> String {
        "posture ssh certificate\nuser \(user)\ngrant \(grant)\nat \(signedAt)\nkey \(publicKey)\n"
    }
}

/// The agent's answer on its unix socket: the certificate, or why not (the collector's words).
public struct LocalAccessAnswer: Sendable, Codable, Equatable {
    public var issued: SSHCertificateIssued?
    /// The asking user's sudo grants on this device, newest first (a request's own first).
    public var sudo: [SudoGrantState]?
    public var error: String?

    public init(issued: SSHCertificateIssued? = nil, sudo: [SudoGrantState]? = nil, error: String? = nil) {
        self.issued = issued
        self.sudo = sudo
        self.error = error
    }
}
