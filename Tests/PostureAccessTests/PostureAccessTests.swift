import Foundation
import PostureAccess
import TestSupport
import Testing

/// PostureAccess's OpenSSH formats checked against the real ssh-keygen: the certificates it lists, the KRLs it
/// queries, the signatures it makes. Logging in to a real sshd with them is tested end to end elsewhere.
@Suite(Requirement.available(programs: ["ssh-keygen", "sha256sum"]))
struct PostureAccessTests {
    /// The user key types certified and verified here, as ssh-keygen makes them.
    enum KeyKind: String, CaseIterable, Sendable {
        case ed25519, ecdsa256, rsa2048

        /// ssh-keygen's arguments to make one, its SSH type, and how `ssh-keygen -L` names it certified.
        var details: (arguments: [String], type: String, display: String) {
            switch self {
            case .ed25519: (["-t", "ed25519"], "ssh-ed25519", "ED25519")
            case .ecdsa256: (["-t", "ecdsa", "-b", "256"], "ecdsa-sha2-nistp256", "ECDSA")
            case .rsa2048: (["-t", "rsa", "-b", "2048"], "ssh-rsa", "RSA")
            }
        }
    }

    static let validAfter: UInt64 = 1_700_000_000  // 2023-11-14T22:13:20Z
    static let validBefore: UInt64 = 4_102_444_800  // 2100-01-01T00:00:00Z
    static let namespace = "posture-access"

    @Test func aCAIsListedBySshKeygenWithItsFingerprintAndReloadsFromItsSeed() throws {
        let ca = SSHCertificateAuthority()
        let path = try Paths.temporaryDirectory("ca").appendingPathComponent("ca.pub").path
        try write(ca.publicKeyLine(comment: "posture-ca"), to: path)
        let listed = try Shell.run(["ssh-keygen", "-l", "-f", path]).stdout
        #expect(listed == "256 \(ca.fingerprint) posture-ca (ED25519)\n")
        let reloaded = try SSHCertificateAuthority(rawRepresentation: ca.rawRepresentation)
        #expect(reloaded.publicKeyBlob == ca.publicKeyBlob)
        #expect(SSHCertificateAuthority().publicKeyBlob != ca.publicKeyBlob)
        let error = #expect(throws: SSHKeyError.self) { try SSHCertificateAuthority(rawRepresentation: [1, 2, 3]) }
        #expect(error?.reason.contains("32-byte") == true)
    }

    @Test(arguments: KeyKind.allCases)
    func aCertificateListsAsIssuedUnderSshKeygen(kind: KeyKind) throws {
        let keyPath = try Paths.temporaryDirectory("cert-\(kind.rawValue)").appendingPathComponent("id").path
        let key = try makeKey(kind, at: keyPath)
        #expect(key.type == kind.details.type)
        let keyListing = try Shell.run(["ssh-keygen", "-l", "-f", keyPath + ".pub"]).stdout.split(separator: " ")
        #expect(keyListing.dropFirst().first.map(String.init) == key.fingerprint)

        let ca = SSHCertificateAuthority()
        let certificate = try ca.issueUserCertificate(
            for: key, serial: 4242, keyID: "alice@laptop", principals: ["alice", "posture-admin"],
            validAfter: Self.validAfter, validBefore: Self.validBefore,
            criticalOptions: ["source-address": "127.0.0.1/32,::1/128", "force-command": "/bin/echo forced"])
        #expect(certificate.typeName == "\(kind.details.type)-cert-v01@openssh.com")
        let certificatePath = keyPath + "-cert.pub"
        try write(certificate.line(comment: "posture-test"), to: certificatePath)
        let expected = [
            "Type: \(kind.details.type)-cert-v01@openssh.com user certificate",
            "Public key: \(kind.details.display)-CERT \(key.fingerprint)",
            "Signing CA: ED25519 \(ca.fingerprint) (using ssh-ed25519)",
            "Key ID: \"alice@laptop\"", "Serial: 4242", "Valid: from 2023-11-14T22:13:20 to 2100-01-01T00:00:00",
            "Principals:", "alice", "posture-admin",
            "Critical Options:", "force-command /bin/echo forced", "source-address 127.0.0.1/32,::1/128",
            "Extensions:", "permit-agent-forwarding", "permit-port-forwarding", "permit-pty", "permit-user-rc",
        ]
        #expect(try listing(certificatePath) == expected)

        // ssh-keygen checks the CA's signature: with one bit of it changed, the certificate is refused.
        var altered = certificate.blob
        altered[altered.count - 1] ^= 1
        try write("\(certificate.typeName) \(Data(altered).base64EncodedString())", to: certificatePath)
        #expect(try Shell.runAllowingFailure(["ssh-keygen", "-L", "-f", certificatePath]).status != 0)
    }

    @Test func issuanceRefusesSerialZeroNoPrincipalsAndAnEmptyValidity() throws {
        let ca = SSHCertificateAuthority()
        let key = try SSHPublicKey(line: SSHCertificateAuthority().publicKeyLine(comment: "user"))
        func issue(
            serial: UInt64 = 7, principals: [String] = ["alice"], validAfter: UInt64 = Self.validAfter,
            validBefore: UInt64 = Self.validBefore
        ) throws(SSHCertificateError) -> SSHCertificate {
            try ca.issueUserCertificate(
                for: key, serial: serial, keyID: "alice", principals: principals, validAfter: validAfter,
                validBefore: validBefore)
        }
        #expect(try issue().serial == 7)  // the same inputs with nothing wrong are accepted
        let refusals = [
            (#expect(throws: SSHCertificateError.self) { try issue(serial: 0) }, "serial 0"),
            (#expect(throws: SSHCertificateError.self) { try issue(principals: []) }, "no principals"),
            (#expect(throws: SSHCertificateError.self) { try issue(principals: [""]) }, "is empty"),
            (#expect(throws: SSHCertificateError.self) { try issue(validBefore: Self.validAfter) }, "not before"),
            (#expect(throws: SSHCertificateError.self) { try issue(validAfter: Self.validBefore) }, "not before"),
        ]
        for (error, cause) in refusals {
            #expect(error?.reason.contains(cause) == true, "expected a reason with '\(cause)'")
        }
    }

    @Test func aKRLRevokesExactlyItsSerials() throws {
        let directory = try Paths.temporaryDirectory("krl")
        let key = try makeKey(.ed25519, at: directory.appendingPathComponent("id").path)
        let ca = SSHCertificateAuthority()
        func certificatePath(_ serial: UInt64) -> String { directory.appendingPathComponent("\(serial)-cert.pub").path }
        for serial: UInt64 in [1001, 1002] {
            let certificate = try ca.issueUserCertificate(
                for: key, serial: serial, keyID: "alice-\(serial)", principals: ["alice"], validAfter: Self.validAfter,
                validBefore: Self.validBefore)
            try write(certificate.line(), to: certificatePath(serial))
        }
        let krlPath = directory.appendingPathComponent("revoked.krl").path
        func query(_ krl: SSHKeyRevocationList, _ serial: UInt64) throws -> Shell.Output {
            try Data(krl.bytes).write(to: URL(fileURLWithPath: krlPath))
            return try Shell.runAllowingFailure(["ssh-keygen", "-Q", "-f", krlPath, certificatePath(serial)])
        }

        let krl = try revocationList(ca.publicKeyBlob, [1001, 9, 1001, 4], version: 3)
        #expect(krl.revokedSerials == [4, 9, 1001])
        let revoked = try query(krl, 1001)
        #expect(revoked.status == 1 && revoked.stdout.contains("REVOKED"), "\(revoked)")
        let kept = try query(krl, 1002)
        #expect(kept.status == 0 && kept.stdout.hasSuffix(": ok\n"), "\(kept)")
        let dump = try Shell.run(["ssh-keygen", "-Q", "-l", "-f", krlPath]).stdout
        #expect(dump.contains("# KRL version 3\n") && dump.contains("# CA key ssh-ed25519 \(ca.fingerprint)\n"))
        #expect(dump.contains("serial: 4\nserial: 9\nserial: 1001\n"))

        let empty = try revocationList(ca.publicKeyBlob, [])
        #expect(try query(empty, 1001).status == 0 && query(empty, 1002).status == 0)
        let otherCAs = try revocationList(SSHCertificateAuthority().publicKeyBlob, [1001, 1002])
        #expect(try query(otherCAs, 1001).status == 0 && query(otherCAs, 1002).status == 0)
        let error = #expect(throws: SSHKeyRevocationListError.self) { try revocationList(ca.publicKeyBlob, [5, 0]) }
        #expect(error?.reason.contains("serial 0") == true)

        // Byte for byte what `ssh-keygen -k` writes for the same list, but for its generated_date (bytes 20..<28).
        try write(ca.publicKeyLine(), to: directory.appendingPathComponent("ca.pub").path)
        try write("serial: 1001", to: directory.appendingPathComponent("spec").path)
        try Shell.run([
            "ssh-keygen", "-k", "-f", krlPath, "-s", "\(directory.path)/ca.pub", "-z", "5", "\(directory.path)/spec",
        ])
        let reference = [UInt8](try Data(contentsOf: URL(fileURLWithPath: krlPath)))
        let ours = try revocationList(ca.publicKeyBlob, [1001], version: 5).bytes
        #expect(ours.count == reference.count && ours.count > 28)
        #expect(ours.prefix(20) == reference.prefix(20) && ours.dropFirst(28) == reference.dropFirst(28))
    }

    @Test func aKRLTagIsStableForEqualBytesAndDiffersForOtherSerials() throws {
        let ca = SSHCertificateAuthority()
        func bytes(_ serials: [UInt64]) throws -> [UInt8] { try revocationList(ca.publicKeyBlob, serials).bytes }
        func tag(_ serials: [UInt64]) throws -> String { SSHKeyRevocationList.tag(of: try bytes(serials)) }
        #expect(try bytes([3, 1, 2]) == bytes([1, 2, 3, 3]))
        #expect(try tag([3, 1, 2]) == tag([1, 2, 3, 3]))
        #expect(try tag([1, 2, 3]) != tag([1, 2, 4]))
        #expect(try tag([]) != tag([1]))

        // A quoted entity tag: the first 12 bytes of the SHA-256 of the bytes, in hex, as sha256sum prints it.
        let path = try Paths.temporaryDirectory("tag").appendingPathComponent("list.krl").path
        let list = try bytes([42, 7])
        try Data(list).write(to: URL(fileURLWithPath: path))
        let digest = try Shell.run(["sha256sum", path]).stdout.prefix(24)
        #expect(SSHKeyRevocationList.tag(of: list) == "\"\(digest)\"")
    }

    @Test(arguments: KeyKind.allCases)
    func aSignatureVerifiesOnlyForItsKeyMessageAndNamespace(kind: KeyKind) throws {
        let directory = try Paths.temporaryDirectory("sig-\(kind.rawValue)")
        let keyPath = directory.appendingPathComponent("id").path
        let key = try makeKey(kind, at: keyPath)
        let message = Array("posture-access challenge \(UInt64.random(in: 1...UInt64.max))\n".utf8)
        let messagePath = directory.appendingPathComponent("message").path
        try Data(message).write(to: URL(fileURLWithPath: messagePath))
        try Shell.run(["ssh-keygen", "-Y", "sign", "-n", Self.namespace, "-f", keyPath, messagePath])
        let armored = try String(contentsOfFile: messagePath + ".sig", encoding: .utf8)

        let signature = try SSHSignature(armored: armored)
        #expect(signature.publicKey.blob == key.blob)
        #expect(signature.namespace == Self.namespace && signature.hashAlgorithm == "sha512")
        try signature.verify(message: message, namespace: Self.namespace)

        var changed = message
        changed[0] ^= 1
        expectRefused(armored, message: changed)
        expectRefused(armored, message: message + [0x0a])
        expectRefused(armored, message: message, namespace: "git")
        var lines = armored.split(separator: "\n").map(String.init)
        let middle = lines[lines.count - 3].index(lines[lines.count - 3].startIndex, offsetBy: 30)
        lines[lines.count - 3].replaceSubrange(middle...middle, with: lines[lines.count - 3][middle] == "A" ? "B" : "A")
        expectRefused(lines.joined(separator: "\n"), message: message)
        expectRefused(armored.replacingOccurrences(of: "-----END SSH SIGNATURE-----", with: ""), message: message)

        // Re-armored unchanged it verifies; with any one byte changed (the key's included) it never does.
        let blob = decoded(armored)
        try SSHSignature(armored: armor(blob)).verify(message: message, namespace: Self.namespace)
        let acceptedChanges = blob.indices.filter { index in
            var changed = blob
            changed[index] ^= 0x5a
            return (try? SSHSignature(armored: armor(changed)).verify(message: message, namespace: Self.namespace))
                != nil
        }
        #expect(acceptedChanges.isEmpty, "\(acceptedChanges.count) of \(blob.count) one-byte changes accepted")
    }

    @Test func hostileKeyLinesAreRefusedWithTheirReason() throws {
        let ca = SSHCertificateAuthority()
        let genuine = ca.publicKeyLine(comment: "user@host")
        let key = try SSHPublicKey(line: genuine)
        #expect(key.line == genuine && key.blob == ca.publicKeyBlob)
        let base64 = genuine.split(separator: " ")[1]
        let certificate = try ca.issueUserCertificate(
            for: key, serial: 1, keyID: "alice", principals: ["alice"], validAfter: Self.validAfter,
            validBefore: Self.validBefore)
        let hostile: [(line: String, reason: String)] = [
            ("ssh-ed25519 !!!not-base64!!!", "base64"),
            ("ecdsa-sha2-nistp256 \(base64)", "the line says 'ecdsa-sha2-nistp256' but its key is 'ssh-ed25519'"),
            (certificate.line(), "is a certificate"),
            ("\(genuine) " + String(repeating: "x", count: 16 * 1024), "16384-byte limit"),
            ("ssh-dss AAAAB3NzaC1kc3MAAACBAP8= old", "'ssh-dss' is not one OpenSSH certifies"),
            ("\(genuine)\n\(genuine)", "several lines"),
            ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAAQA=", "do not match its type"),
            ("garbage", "not an OpenSSH public key line"),
        ]
        for (line, reason) in hostile {
            let error = #expect(throws: SSHKeyError.self, "\(line.prefix(60))") { try SSHPublicKey(line: line) }
            #expect(error?.reason.contains(reason) == true, "\(error?.reason ?? "accepted"): wanted '\(reason)'")
        }
    }
}

/// Asserts that ssh-keygen's armored signature is refused for `message` and `namespace`, with a reason.
private func expectRefused(
    _ armored: String, message: [UInt8], namespace: String = PostureAccessTests.namespace,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let error = #expect(throws: SSHSignatureError.self, sourceLocation: sourceLocation) {
        try SSHSignature(armored: armored).verify(message: message, namespace: namespace)
    }
    #expect(error?.reason.isEmpty == false, sourceLocation: sourceLocation)
}

/// Makes a key pair with ssh-keygen at `path` and `path`.pub, and parses the public line.
private func makeKey(_ kind: PostureAccessTests.KeyKind, at path: String) throws -> SSHPublicKey {
    try Shell.run(["ssh-keygen", "-q", "-N", "", "-C", "user@\(kind.rawValue)", "-f", path] + kind.details.arguments)
    return try SSHPublicKey(line: String(contentsOfFile: path + ".pub", encoding: .utf8))
}

/// `ssh-keygen -L` of a certificate file, times in UTC, without the first line (the path), each line trimmed.
private func listing(_ path: String) throws -> [String] {
    let output = try Shell.run(["env", "TZ=UTC", "ssh-keygen", "-L", "-f", path]).stdout
    return output.split(separator: "\n").dropFirst().map { $0.trimmingCharacters(in: .whitespaces) }
}

/// A KRL with no comment and no time in it, so that its bytes depend only on the CA, serials and version.
private func revocationList(
    _ ca: [UInt8], _ serials: [UInt64], version: UInt64 = 1
) throws(SSHKeyRevocationListError) -> SSHKeyRevocationList {
    try SSHKeyRevocationList(version: version, generatedAt: 0, comment: "", ca: ca, revokedSerials: serials)
}

private func write(_ text: String, to path: String) throws {
    try Data((text + "\n").utf8).write(to: URL(fileURLWithPath: path))
}

private func decoded(_ armored: String) -> [UInt8] {
    let body = armored.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
    return [UInt8](Data(base64Encoded: body) ?? Data())
}

private func armor(_ blob: [UInt8]) -> String {
    "-----BEGIN SSH SIGNATURE-----\n\(Data(blob).base64EncodedString())\n-----END SSH SIGNATURE-----\n"
}
