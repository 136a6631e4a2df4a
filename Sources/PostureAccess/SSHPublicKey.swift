import Crypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A user's public key as an authorized_keys or `.pub` line gives it: the key a certificate certifies.
public struct SSHPublicKey: Sendable, Hashable {
    /// The longest line accepted, so that a caller can't make us decode megabytes; an RSA-16384 line is under 3 KiB.
    public static let maximumLineLength = 16 * 1024

    /// The key types OpenSSH certifies for users, each with the number of wire strings (or mpints) after its type.
    static let fieldCounts: [String: Int] = [
        "ssh-ed25519": 1,
        "ecdsa-sha2-nistp256": 2,
        "ecdsa-sha2-nistp384": 2,
        "ecdsa-sha2-nistp521": 2,
        "ssh-rsa": 2,
        "sk-ssh-ed25519@openssh.com": 2,
        "sk-ecdsa-sha2-nistp256@openssh.com": 3,
    ]

    /// The curve name an ECDSA key's blob must carry after its type.
    static let curves: [String: String] = [
        "ecdsa-sha2-nistp256": "nistp256",
        "ecdsa-sha2-nistp384": "nistp384",
        "ecdsa-sha2-nistp521": "nistp521",
        "sk-ecdsa-sha2-nistp256@openssh.com": "nistp256",
    ]

    /// The accepted key types, sorted, for error messages and callers that list them.
    public static var supportedTypes: [String] { fieldCounts.keys.sorted() }

    /// The key type, such as `ssh-ed25519`: also the first string of `blob`.
    public let type: String
    /// The key's SSH wire encoding, as the line's base64 decodes to.
    public let blob: [UInt8]
    /// The free text after the key on its line, often `user@host`; empty when there was none.
    public let comment: String

    /// Parses `"<type> <base64> [comment]"`, as in a `.pub` file or an authorized_keys line without options.
    public init(line: String) throws(SSHKeyError) {
        guard line.utf8.count <= Self.maximumLineLength else {
            throw SSHKeyError(
                reason: "line is \(line.utf8.count) bytes, over the \(Self.maximumLineLength)-byte limit: "
                    + "give one public key line, such as the contents of a .pub file")
        }
        // By Unicode scalars, not Characters: a comment starting with a combining mark would otherwise
        // merge with the separator before it, and the key's own `line` would not parse again.
        var scalars = Array(line.unicodeScalars)
        while scalars.first?.properties.isWhitespace == true { scalars.removeFirst() }
        while scalars.last?.properties.isWhitespace == true { scalars.removeLast() }
        guard !scalars.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\u{2028}" || $0 == "\u{2029}" }) else {
            throw SSHKeyError(reason: "input has several lines: give exactly one public key line")
        }
        let fields = scalars.split(maxSplits: 2, whereSeparator: { $0 == " " || $0 == "\t" }).map {
            String(String.UnicodeScalarView($0))
        }
        guard fields.count >= 2 else {
            throw SSHKeyError(reason: "not an OpenSSH public key line: expected '<type> <base64> [comment]'")
        }
        let type = String(fields[0])
        try Self.checkSupported(type: type)
        guard let decoded = Data(base64Encoded: String(fields[1])) else {
            throw SSHKeyError(
                reason: "the key's base64 does not decode: copy the line from the .pub file unchanged")
        }
        let comment =
            fields.count > 2
            ? String(String.UnicodeScalarView(fields[2].unicodeScalars.drop(while: { $0 == " " || $0 == "\t" }))) : ""
        try self.init(blob: [UInt8](decoded), comment: comment)
        guard self.type == type else {
            throw SSHKeyError(
                reason: "the line says '\(type)' but its key is '\(self.type)': the line was edited or pasted "
                    + "from two keys; copy it from the .pub file unchanged")
        }
    }

    /// Takes a key's wire blob directly, checking that its fields are those its type needs.
    public init(blob: [UInt8], comment: String = "") throws(SSHKeyError) {
        var reader = SSHWireReader(blob)
        guard let typeBytes = reader.readString(), let type = String(validating: typeBytes, as: UTF8.self) else {
            throw SSHKeyError(reason: "the key blob does not start with its type name: it is not an SSH public key")
        }
        try Self.checkSupported(type: type)
        var fields: [ArraySlice<UInt8>] = []
        for _ in 0..<(Self.fieldCounts[type] ?? 0) {
            guard let field = reader.readString() else { break }
            fields.append(field)
        }
        let curveMatches = Self.curves[type].map { fields.first?.elementsEqual($0.utf8) == true } ?? true
        let ed25519LengthMatches = !type.contains("ed25519") || fields.first?.count == 32
        guard fields.count == Self.fieldCounts[type], reader.isAtEnd, curveMatches, ed25519LengthMatches else {
            throw SSHKeyError(
                reason: "the key blob's fields do not match its type '\(type)': the key is truncated or altered; "
                    + "copy it from the .pub file unchanged")
        }
        self.type = type
        self.blob = blob
        self.comment = comment
    }

    /// `SHA256:<base64 without padding>` of the blob: what `ssh-keygen -l` and sshd's logs print for this key.
    public var fingerprint: String {
        Self.fingerprint(ofBlob: blob)
    }

    /// The key as one `.pub` or authorized_keys line.
    public var line: String {
        let base64 = Data(blob).base64EncodedString()
        return comment.isEmpty ? "\(type) \(base64)" : "\(type) \(base64) \(comment)"
    }

    static func fingerprint(ofBlob blob: [UInt8]) -> String {
        let digest = Data(SHA256.hash(data: blob)).base64EncodedString()
        return "SHA256:" + digest.prefix(while: { $0 != "=" })
    }

    private static func checkSupported(type: String) throws(SSHKeyError) {
        if type.hasSuffix("-cert-v01@openssh.com") {
            throw SSHKeyError(
                reason: "'\(type)' is a certificate, not a public key: give the user's plain key (the .pub file "
                    + "without -cert)")
        }
        guard fieldCounts[type] != nil else {
            throw SSHKeyError(
                reason: "key type '\(type.prefix(64))' is not one OpenSSH certifies for users: use one of "
                    + supportedTypes.joined(separator: ", "))
        }
    }
}
