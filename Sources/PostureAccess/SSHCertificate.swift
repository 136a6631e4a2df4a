#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An OpenSSH user certificate (PROTOCOL.certkeys) as issued: the signed blob and the fields it was made from.
public struct SSHCertificate: Sendable, Hashable {
    /// What `ssh-keygen -s` grants by default, less X11 forwarding, which endpoints have no use for.
    public static let defaultUserExtensions = [
        "permit-agent-forwarding", "permit-port-forwarding", "permit-pty", "permit-user-rc",
    ]

    /// The certificate's SSH wire encoding, signature included: the base64 of a `-cert.pub` line.
    public let blob: [UInt8]
    /// The certificate key type, such as `ssh-ed25519-cert-v01@openssh.com`.
    public let typeName: String
    /// The CA's number for this certificate, by which a KRL revokes it.
    public let serial: UInt64
    /// Free text that sshd logs on each login with this certificate.
    public let keyID: String
    /// The user names this certificate may log in as.
    public let principals: [String]
    /// Seconds since the epoch from which the certificate is valid (inclusive).
    public let validAfter: UInt64
    /// Seconds since the epoch until which the certificate is valid (exclusive).
    public let validBefore: UInt64
    /// The extensions granted, sorted as they are encoded.
    public let extensions: [String]
    /// The critical options (such as `force-command`, `source-address`) by name.
    public let criticalOptions: [String: String]

    /// The certificate as the one line of a `<key>-cert.pub` file, which `ssh -o CertificateFile=` reads.
    public func line(comment: String = "") -> String {
        let base64 = Data(blob).base64EncodedString()
        return comment.isEmpty ? "\(typeName) \(base64)" : "\(typeName) \(base64) \(comment)"
    }

    /// The certificate type for a key type: `-cert-v01@openssh.com` replaces the `@openssh.com` of `sk-` types.
    public static func typeName(forKeyType keyType: String) -> String {
        let suffix = "@openssh.com"
        let base = keyType.hasSuffix(suffix) ? String(keyType.dropLast(suffix.count)) : keyType
        return base + "-cert-v01@openssh.com"
    }
}

extension SSHCertificate {
    /// Name/data pairs sorted by name bytes, as PROTOCOL.certkeys requires. An empty value is a flag option
    /// (empty data, as `verify-required` needs); any other value is wrapped as a string inside the data.
    static func encodeOptions(_ options: [(name: String, value: String)]) -> [UInt8] {
        var writer = SSHWireWriter()
        for option in options.sorted(by: { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }) {
            writer.appendString(option.name)
            if option.value.isEmpty {
                writer.appendString([UInt8]())
            } else {
                var data = SSHWireWriter()
                data.appendString(option.value)
                writer.appendString(data.bytes)
            }
        }
        return writer.bytes
    }

    /// The fields OpenSSH reads as C strings can hold no NUL; sshd refuses the whole certificate otherwise.
    static func checkText(_ value: String, field: String) throws(SSHCertificateError) {
        guard !value.isEmpty else {
            throw SSHCertificateError(reason: "\(field) is empty: give a non-empty value")
        }
        guard !value.utf8.contains(0) else {
            throw SSHCertificateError(reason: "\(field) contains a NUL byte, which OpenSSH refuses: remove it")
        }
        guard value.utf8.count <= 4096 else {
            throw SSHCertificateError(
                reason: "\(field) is \(value.utf8.count) bytes, over the 4096-byte limit: shorten it")
        }
    }
}
