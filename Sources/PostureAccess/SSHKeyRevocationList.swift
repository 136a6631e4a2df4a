/// An OpenSSH KRL (PROTOCOL.krl) revoking one CA's certificates by serial: the file sshd's `RevokedKeys` and
/// `ssh-keygen -Q` read. Unsigned, as OpenSSH 9.4+ refuses KRL signatures; distribute it over a trusted channel.
public struct SSHKeyRevocationList: Sendable, Hashable {
    static let magic: UInt64 = 0x5353_484b_524c_0a00  // "SSHKRL\n\0"
    static let formatVersion: UInt32 = 1
    static let sectionCertificates: UInt8 = 1
    static let sectionCertificateSerialList: UInt8 = 0x20

    /// Increases each time the list changes, so that a reader can tell a newer list from an older one.
    public let version: UInt64
    /// Seconds since the epoch at which the list was made.
    public let generatedAt: UInt64
    /// Free text that `ssh-keygen -Q -l` and sshd's debug log show.
    public let comment: String
    /// The wire blob of the CA whose certificates are revoked.
    public let caPublicKeyBlob: [UInt8]
    /// The revoked serials, ascending and each once.
    public let revokedSerials: [UInt64]

    /// A list revoking `revokedSerials` of the certificates that `ca` (a CA public key blob) signed. With no
    /// serials, the list has no sections and revokes nothing, which sshd accepts.
    public init(
        version: UInt64, generatedAt: UInt64, comment: String, ca: [UInt8], revokedSerials: [UInt64]
    ) throws(SSHKeyRevocationListError) {
        do {
            _ = try SSHPublicKey(blob: ca)
        } catch {
            throw SSHKeyRevocationListError(
                reason: "the CA blob is not a public key (\(error.reason)): give the CA's publicKeyBlob")
        }
        guard !comment.utf8.contains(0), comment.utf8.count <= 4096 else {
            throw SSHKeyRevocationListError(
                reason: "the comment has a NUL byte or is over 4096 bytes, which OpenSSH refuses: shorten it")
        }
        guard !revokedSerials.contains(0) else {
            throw SSHKeyRevocationListError(
                reason: "serial 0 can't be revoked (OpenSSH refuses the whole KRL): leave it out, and revoke "
                    + "unnumbered certificates by key instead")
        }
        self.version = version
        self.generatedAt = generatedAt
        self.comment = comment
        self.caPublicKeyBlob = ca
        self.revokedSerials = Array(Set(revokedSerials)).sorted()
    }

    /// The KRL file's contents.
    public var bytes: [UInt8] {
        var writer = SSHWireWriter()
        writer.appendUInt64(Self.magic)
        writer.appendUInt32(Self.formatVersion)
        writer.appendUInt64(version)
        writer.appendUInt64(generatedAt)
        writer.appendUInt64(0)  // flags: none are defined
        writer.appendString([UInt8]())  // reserved
        writer.appendString(comment)
        guard !revokedSerials.isEmpty else { return writer.bytes }

        var serials = SSHWireWriter()
        for serial in revokedSerials { serials.appendUInt64(serial) }
        var section = SSHWireWriter()
        section.appendString(caPublicKeyBlob)
        section.appendString([UInt8]())  // reserved
        section.appendByte(Self.sectionCertificateSerialList)
        section.appendString(serials.bytes)
        writer.appendByte(Self.sectionCertificates)
        writer.appendString(section.bytes)
        return writer.bytes
    }
}
