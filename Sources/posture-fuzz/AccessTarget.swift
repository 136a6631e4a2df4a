#if DEBUG
    import Crypto
    import Foundation
    @testable import PostureAccess
    @testable import PostureAgent
    @testable import PostureCollector
    import PostureModel
    import PostureVerdict

    /// Just-in-time access, both ends of it. The agent's access socket takes one JSON line from any local user:
    /// `LocalSSHRequest` (JSONDecoder, as `requestCertificate`), its `publicKey` line, then `Agent.checkProof` (the
    /// armored SSHSIG over `LocalSSHRequest.signedText`) for a fixed user at the fixed clock. What the agent would
    /// forward, and the input itself as `SSHCertificateRequest` JSON, takes the collector's path: the key line, the
    /// duration, the shipped policy's grant for a compliant device, and a certificate from a fixed CA. The same
    /// bytes are also parsed as a key line, a key blob, an armored signature and a signature blob (checked over
    /// `message`). Every parsed key, signature and certificate is checked against its own encoding. Time-bound
    /// sudo: the input as the socket's `LocalSudoRequest` takes the collector's checks (reason, duration, the
    /// shipped policy's grants), and as the collector's `SudoGrantState` becomes the agent's sudoers drop-in,
    /// which must hold exactly one rule, the grant's own, whatever the names and commands say.
    enum AccessTarget {
        /// The local user the kernel names (SO_PEERCRED), and the groups the agent finds for them.
        static let user = "alice"
        static let groups = ["ops"]
        /// What the raw signatures are checked over (the seeds' `ssh-keygen -Y sign -n posture-access`).
        static let message = Array("posture-fuzz access message\n".utf8)
        /// The agent's clock, and the `signedAt` of the seed requests.
        static let now = Int64(Fixtures.now.timeIntervalSince1970)
        static let caSeed: [UInt8] = (0..<32).map { 0xC1 &+ UInt8($0) }
        static let ca: SSHCertificateAuthority = {
            do {
                return try SSHCertificateAuthority(rawRepresentation: caSeed)
            } catch {
                fatalError("the fixed SSH CA seed is refused: \(error)")
            }
        }()
        static let caPublicKey: Curve25519.Signing.PublicKey = {
            do {
                return try Curve25519.Signing.PrivateKey(rawRepresentation: caSeed).publicKey
            } catch {
                fatalError("the fixed SSH CA seed is refused: \(error)")
            }
        }()
        /// The device's verdict when the collector decides: compliant, changing by itself in an hour.
        static let compliant = Verdict(
            deviceID: Fixtures.deviceID, status: .compliant, failing: [], unknown: [], excused: [], risk: 0,
            riskReasons: [], quarantine: nil, reportIssuedAt: Fixtures.now, evaluatedAt: Fixtures.now,
            validUntil: Fixtures.now.addingTimeInterval(300), policyVersion: "fuzz",
            reevaluateAt: Fixtures.now.addingTimeInterval(3600))

        static func run(_ input: [UInt8]) -> String {
            var outcomes = ["agent: " + agent(line: input)]
            if let request = try? PostureReport.wireDecoder().decode(SSHCertificateRequest.self, from: Data(input)) {
                outcomes.append("collector: " + collector(request, proved: nil))
            }
            if let sudo = try? JSONDecoder().decode(LocalSudoRequest.self, from: Data(input)) {
                outcomes.append("sudo request: " + sudoRequest(sudo))
            }
            if let state = try? PostureReport.wireDecoder().decode(SudoGrantState.self, from: Data(input)) {
                outcomes.append("sudo drop-in: " + dropIn(state))
            }
            let text = String(decoding: input, as: UTF8.self)
            if let key = try? SSHPublicKey(line: text) {
                check(key, fromLine: true)
                outcomes.append("key line \(key.type)")
            }
            if let key = try? SSHPublicKey(blob: input) {
                check(key, fromLine: false)
                outcomes.append("key blob \(key.type)")
            }
            if let signature = try? SSHSignature(armored: text) {
                outcomes.append("armored signature " + check(signature))
            }
            if let signature = try? SSHSignature(blob: input) {
                let armored = armor(input)
                if armored.utf8.count <= SSHSignature.maximumArmoredLength {
                    guard let again = try? SSHSignature(armored: armored) else {
                        fatalError("a signature blob that parses is refused once armored")
                    }
                    guard
                        again.publicKey == signature.publicKey, again.namespace == signature.namespace,
                        again.hashAlgorithm == signature.hashAlgorithm, again.signature == signature.signature
                    else { fatalError("a signature blob parses differently once armored") }
                }
                outcomes.append("signature blob " + check(signature))
            }
            return outcomes.joined(separator: "; ")
        }

        /// `Agent.requestCertificate` up to the collector: the request line, the key, the proof; then the
        /// request it forwards, encoded and decoded as the client and the collector's route do.
        static func agent(line: [UInt8]) -> String {
            guard line.count <= AccessSocket.maxRequestBytes,
                let request = try? JSONDecoder().decode(LocalSSHRequest.self, from: Data(line))
            else { return "not a request" }
            let key: SSHPublicKey
            do {
                key = try SSHPublicKey(line: request.publicKey)
            } catch {
                return "refused: the public key"
            }
            check(key, fromLine: true)
            do {
                try Agent.checkProof(request, user: user, key: key, now: now)
            } catch {
                return "refused: \(error.message.prefix(40))"
            }
            // Accepted: the proof binds the user, the grant, the time and the clock's window.
            var otherGrant = request
            otherGrant.grant += "x"
            var otherTime = request
            otherTime.signedAt += 1
            guard
                (try? Agent.checkProof(request, user: "mallory", key: key, now: now)) == nil,
                (try? Agent.checkProof(otherGrant, user: user, key: key, now: now)) == nil,
                (try? Agent.checkProof(otherTime, user: user, key: key, now: now)) == nil,
                (try? Agent.checkProof(request, user: user, key: key, now: request.signedAt + 61)) == nil
            else { fatalError("a proof verifies for another user, grant, time or clock than it was signed for") }
            guard let signature = try? SSHSignature(armored: request.signature), signature.publicKey.blob == key.blob
            else { fatalError("checkProof accepted a signature that does not parse, or is by another key") }
            let asked = SSHCertificateRequest(
                grant: request.grant, user: user, groups: groups, publicKey: key.line, duration: request.duration)
            guard let body = try? PostureReport.wireEncoder().encode(asked),
                let received = try? PostureReport.wireDecoder().decode(SSHCertificateRequest.self, from: body),
                received == asked
            else { fatalError("the request the agent forwards does not decode as it was sent") }
            return "proof accepted; collector: " + collector(received, proved: key)
        }

        /// `CollectorCore.issueSSHCertificate` without the store: the key, the duration, the shipped policy's
        /// grant for a compliant device, then the certificate. `proved` is the key the agent checked the proof of.
        static func collector(_ request: SSHCertificateRequest, proved: SSHPublicKey?) -> String {
            let key: SSHPublicKey
            do {
                key = try SSHPublicKey(line: request.publicKey)
            } catch {
                if proved != nil {
                    fatalError("the collector refuses the key line the agent forwards: \(error)")
                }
                return "refused: publicKey"
            }
            check(key, fromLine: true)
            if let proved, proved.blob != key.blob || proved.type != key.type {
                fatalError("the collector reads another key than the agent proved")
            }
            var requested: Duration?
            if let duration = request.duration {
                guard let parsed = DurationText(duration) else { return "refused: duration" }
                requested = parsed.duration
            }
            let decision: (grant: AccessGrant, principals: [String], until: Date)
            do {
                decision = try Fixtures.policy.sshGrant(
                    request.grant, user: request.user, groups: request.groups, deviceLabels: ["class": "laptop"],
                    verdict: compliant, requested: requested, now: Fixtures.now)
            } catch {
                return "refused: \(error.code.rawValue)"
            }
            let validAfter = UInt64(Fixtures.now.timeIntervalSince1970)
            let validBefore = UInt64(decision.until.timeIntervalSince1970)
            let keyID = "posture device=\(Fixtures.deviceID) user=\(request.user) grant=\(request.grant)"
            let certificate: SSHCertificate
            do {
                certificate = try ca.issueUserCertificate(
                    for: key, serial: 7, keyID: keyID, principals: decision.principals, validAfter: validAfter,
                    validBefore: validBefore)
            } catch {
                fatalError("granted, and the certificate cannot be issued: \(error.reason)")
            }
            check(
                certificate, of: key, keyID: keyID, principals: decision.principals, validAfter: validAfter,
                validBefore: validBefore)
            return "certificate for \(key.type), \(validBefore - validAfter) s"
        }

        /// `CollectorCore.requestSudo` without the store: the reason, the duration, the shipped policy's sudo
        /// grant (ops-sudo) for a compliant device.
        static func sudoRequest(_ request: LocalSudoRequest) -> String {
            guard request.action == .sudoRequest else { return "status" }
            do throws(AccessRefusal) {
                _ = try CollectorCore.sudoReason(request.reason ?? "")
                let requested = try request.duration.map(CollectorCore.duration)
                let decided = try Fixtures.policy.sudoGrant(
                    request.grant ?? "", user: user, groups: groups, deviceLabels: ["class": "laptop"],
                    verdict: compliant, requested: requested)
                guard decided.lifetime >= .seconds(1), decided.lifetime <= decided.grant.maxDuration else {
                    fatalError("a sudo grant of \(decided.lifetime) outside 1s...\(decided.grant.maxDuration)")
                }
                return "granted for \(decided.lifetime)"
            } catch {
                return "refused: \(error.code.rawValue)"
            }
        }

        /// `SudoersDropIns.install` up to visudo: commands the agent takes give a drop-in of comments and one
        /// rule, the grant's, for the uid and deadline given.
        static func dropIn(_ state: SudoGrantState) -> String {
            guard !state.commands.isEmpty, state.commands.allSatisfy(SudoGrantState.isSudoersCommand) else {
                return "refused: commands"
            }
            let text = SudoersDropIns.text(state, uid: 1000, deadline: now)
            let rules = text.split(separator: "\n").filter { !$0.hasPrefix("# ") }
            let rule =
                "#1000 ALL=(ALL:ALL) NOTAFTER=\(SudoersDropIns.generalizedTime(now)) NOPASSWD: "
                + state.commands.joined(separator: ", ")
            guard rules.count == 1, rules.first.map(String.init) == rule else {
                fatalError("a drop-in holds another rule than the grant's: \(text.debugDescription)")
            }
            return "one rule, \(state.commands.count) commands"
        }

        /// A key that parsed: a supported type, which its blob starts with; its blob parses to the same key; its
        /// own line parses back to it (comment included when it came from a line, whose comment can hold no line
        /// break); a fingerprint of the `ssh-keygen -l` form.
        static func check(_ key: SSHPublicKey, fromLine: Bool) {
            var reader = SSHWireReader(key.blob)
            guard SSHPublicKey.fieldCounts[key.type] != nil, reader.readString()?.elementsEqual(key.type.utf8) == true
            else { fatalError("a key of type \(key.type.debugDescription) parses, or its blob has another type") }
            guard let fromBlob = try? SSHPublicKey(blob: key.blob, comment: key.comment), fromBlob == key else {
                fatalError("the blob of a parsed \(key.type) key does not parse to it")
            }
            let line = key.line
            if fromLine || line.utf8.count <= SSHPublicKey.maximumLineLength {
                guard let again = try? SSHPublicKey(line: line) else {
                    fatalError("the line of a parsed \(key.type) key is refused: \(line.suffix(80).debugDescription)")
                }
                guard again.blob == key.blob, again.type == key.type, !fromLine || again.comment == key.comment
                else { fatalError("the line of a parsed \(key.type) key parses to another key") }
            }
            let fingerprint = key.fingerprint
            guard fingerprint.hasPrefix("SHA256:"), fingerprint.utf8.count == 7 + 43,
                !fingerprint.contains("=")
            else { fatalError("fingerprint \(fingerprint) is not SHA256: and 43 base64 characters") }
        }

        /// A signature that parsed: its key is a parseable key, its namespace is non-empty and its hash one of
        /// two; if it verifies over `message` in its own namespace, neither another message nor another
        /// namespace does.
        static func check(_ signature: SSHSignature) -> String {
            check(signature.publicKey, fromLine: false)
            guard !signature.namespace.isEmpty, SSHSignature.hashAlgorithms.contains(signature.hashAlgorithm) else {
                fatalError("a signature parses with an empty namespace or hash \(signature.hashAlgorithm)")
            }
            let namespace = signature.namespace
            do {
                try signature.verify(message: message, namespace: namespace)
            } catch {
                return "\(signature.publicKey.type), does not verify"
            }
            guard (try? signature.verify(message: message + [0x0A], namespace: namespace)) == nil,
                (try? signature.verify(message: Array(message.dropLast()), namespace: namespace)) == nil,
                (try? signature.verify(message: message, namespace: namespace + "x")) == nil,
                (try? signature.verify(message: message, namespace: String(namespace.dropLast()))) == nil
            else { fatalError("a \(signature.publicKey.type) signature verifies another message or namespace") }
            return "\(signature.publicKey.type), verifies"
        }

        /// A certificate as issued: its type, a 32-byte nonce, the user key's fields verbatim, then the fields it
        /// was asked for, the CA's key, and an Ed25519 signature by the CA over all that. Its line is no plain key.
        static func check(
            _ certificate: SSHCertificate, of key: SSHPublicKey, keyID: String, principals: [String],
            validAfter: UInt64, validBefore: UInt64
        ) {
            func fail(_ what: String) -> Never { fatalError("a certificate for a \(key.type) key: \(what)") }
            func uint64(_ reader: inout SSHWireReader) -> UInt64? {
                guard let high = reader.readUInt32(), let low = reader.readUInt32() else { return nil }
                return UInt64(high) << 32 | UInt64(low)
            }
            guard certificate.typeName == SSHCertificate.typeName(forKeyType: key.type) else { fail("type name") }
            var reader = SSHWireReader(certificate.blob)
            guard reader.readString()?.elementsEqual(certificate.typeName.utf8) == true else { fail("type") }
            guard reader.readString()?.count == 32 else { fail("nonce") }
            var keyFields = SSHWireReader(key.blob)
            _ = keyFields.readString()
            guard reader.remaining.starts(with: keyFields.remaining) else { fail("the key's fields are not copied") }
            for _ in 0..<(SSHPublicKey.fieldCounts[key.type] ?? 0) { _ = reader.readString() }
            guard uint64(&reader) == certificate.serial, reader.readUInt32() == 1,
                reader.readString()?.elementsEqual(keyID.utf8) == true
            else { fail("serial, type or key ID") }
            guard var packed = reader.readString().map({ SSHWireReader(Array($0)) }) else { fail("principals") }
            var names: [String] = []
            while !packed.isAtEnd {
                guard let name = packed.readString() else { fail("principals are not strings") }
                names.append(String(decoding: name, as: UTF8.self))
            }
            guard names == principals, uint64(&reader) == validAfter, uint64(&reader) == validBefore else {
                fail("principals or validity")
            }
            guard reader.readString() != nil, reader.readString() != nil, reader.readString()?.isEmpty == true,
                reader.readString().map(Array.init) == ca.publicKeyBlob
            else { fail("options, reserved or CA key") }
            let signed = certificate.blob.prefix(certificate.blob.count - reader.remaining.count)
            guard var signature = reader.readString().map({ SSHWireReader(Array($0)) }), reader.isAtEnd,
                signature.readString()?.elementsEqual("ssh-ed25519".utf8) == true,
                let raw = signature.readString(), signature.isAtEnd,
                caPublicKey.isValidSignature(raw, for: signed)
            else { fail("the CA's signature does not verify") }
            if (try? SSHPublicKey(line: certificate.line())) != nil { fail("its line parses as a plain key") }
        }

        /// A signature blob armored as `ssh-keygen -Y sign` writes it: base64 in lines of 70.
        static func armor(_ blob: [UInt8]) -> String {
            var rest = Substring(Data(blob).base64EncodedString())
            var lines = [SSHSignature.header]
            while !rest.isEmpty {
                lines.append(String(rest.prefix(70)))
                rest = rest.dropFirst(70)
            }
            lines.append(SSHSignature.footer)
            return lines.joined(separator: "\n") + "\n"
        }
    }
#endif
