/// A public key line or CA key that can't be used: `reason` names what is wrong and what to give instead.
public struct SSHKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public var description: String { "SSH key: \(reason)" }
}

/// A certificate that can't be issued as asked: `reason` names the field and how to fix it.
public struct SSHCertificateError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public var description: String { "SSH certificate: \(reason)" }
}

/// A KRL that OpenSSH would refuse to load: `reason` names the field and how to fix it.
public struct SSHKeyRevocationListError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public var description: String { "SSH KRL: \(reason)" }
}
