import Logging
import PostureAccess
import PostureClient
import PostureModel
import PostureSystem

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Just-in-time access on the device: SSH certificates asked for by local users (`posturectl ssh
/// certificate`), and, on a target host, the collector's KRL kept where sshd reads it.
extension Agent {
    /// Serves the access socket until the agent stops; a socket that cannot be made is logged, not fatal.
    func serveAccess() async {
        guard let path = options.access.socket else { return }
        do {
            try await AccessSocket(path: path, logger: logger).serve { peer, line in
                await self.answerAccess(peer: peer, line: line)
            }
        } catch is CancellationError {
        } catch {
            logger.error(
                "cannot serve access requests on \(path): \(error); posturectl ssh certificate will not work here (access.socket in /etc/posture/agent.yaml)"
            )
        }
    }

    /// One request from a local user: the proof that they hold the key checked here, the grant and the
    /// device's verdict checked by the collector.
    func answerAccess(peer: AccessSocket.Peer, line: [UInt8]) async -> [UInt8] {
        let answer: LocalAccessAnswer
        do {
            answer = try await answerRequest(peer: peer, line: line)
        } catch {
            answer = LocalAccessAnswer(error: error.message)
        }
        return Array((try? PostureReport.wireEncoder().encode(answer)) ?? Data(#"{"error":"cannot encode"}"#.utf8))
    }

    private func answerRequest(peer: AccessSocket.Peer, line: [UInt8]) async throws(AccessRequestError)
        -> LocalAccessAnswer
    {
        guard line.count <= AccessSocket.maxRequestBytes else {
            throw AccessRequestError("the request is longer than \(AccessSocket.maxRequestBytes) bytes")
        }
        if let sudo = try? JSONDecoder().decode(LocalSudoRequest.self, from: Data(line)) {
            return try await answerSudo(peer: peer, request: sudo)
        }
        guard let request = try? JSONDecoder().decode(LocalSSHRequest.self, from: Data(line))
        else { throw AccessRequestError("the request is not a posturectl access request (update posturectl)") }
        guard let user = UserDatabase.name(uid: peer.uid) else {
            throw AccessRequestError("uid \(peer.uid) has no user name in the user database")
        }
        let key: SSHPublicKey
        do {
            key = try SSHPublicKey(line: request.publicKey)
        } catch {
            throw AccessRequestError("the public key: \(error.reason)")
        }
        try Self.checkProof(request, user: user, key: key, now: Int64(Date().timeIntervalSince1970))
        let asked = SSHCertificateRequest(
            grant: request.grant, user: user, groups: Enforcer.groups(of: user) ?? [], publicKey: key.line,
            duration: request.duration)
        switch await client.postJSON("/v1/access/ssh-certificate", asked, answer: SSHCertificateIssued.self) {
        case .accepted(let issued):
            logger.notice(
                "SSH certificate \(issued.serial) for \(user) (grant \(request.grant)) until \(issued.validBefore)",
                metadata: [
                    "posture.event": "ssh-certificate-issued", "posture.user": "\(user)",
                    "posture.grant": "\(request.grant)", "posture.serial": "\(issued.serial)",
                ])
            return LocalAccessAnswer(issued: issued)
        case .refused(let body, _):
            logger.warning(
                "SSH certificate refused to \(user) (grant \(request.grant)): \(body.message)",
                metadata: ["posture.code": "\(body.error.rawValue)", "posture.user": "\(user)"])
            return LocalAccessAnswer(error: "the collector refused: \(body.message)")
        case .unavailable(let reason), .busy(let reason, _):
            return LocalAccessAnswer(error: "the collector cannot be reached (\(reason)); try again")
        }
    }

    /// The user signed (`ssh-keygen -Y sign`) their name, the grant, the time and the key with that key's
    /// private half, within the last minute: nobody obtains a certificate for a key they do not hold.
    static func checkProof(_ request: LocalSSHRequest, user: String, key: SSHPublicKey, now: Int64)
        throws(AccessRequestError)
    {
        // signedAt is the user's: any Int64, so the difference is taken without trapping.
        let age = now.subtractingReportingOverflow(request.signedAt)
        guard !age.overflow, (-60...60).contains(age.partialValue) else {
            throw AccessRequestError(
                "the proof was signed at \(request.signedAt), not within a minute of now (\(now)); check the clock")
        }
        do {
            let signature = try SSHSignature(armored: request.signature)
            guard signature.publicKey.blob == key.blob else {
                throw AccessRequestError("the proof is signed by another key than the one asked for")
            }
            let text = LocalSSHRequest.signedText(
                user: user, grant: request.grant, signedAt: request.signedAt, publicKey: request.publicKey)
            try signature.verify(message: Array(text.utf8), namespace: LocalSSHRequest.namespace)
        } catch let error as AccessRequestError {
            throw error
        } catch {
            throw AccessRequestError("the proof of holding the key does not verify: \(error)")
        }
    }

    // MARK: The KRL on a target host

    /// Keeps `access.revokedKeysFile` equal to the collector's KRL, fetched every `krlRefresh` (304 while
    /// unchanged). When the collector cannot be reached the file stays as it was: revocations already
    /// known stay in force.
    func keepRevokedKeys() async {
        guard let file = options.access.revokedKeysFile else { return }
        var lastProblem: String?
        var caKept = false
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            if !caKept { caKept = await keepTrustedCA(beside: file) }
            let current = FileManager.default.contents(atPath: file).map { SSHKeyRevocationList.tag(of: Array($0)) }
            let answer = await client.request(
                "GET", "/v1/access/ssh-krl", body: nil, contentType: nil,
                headers: current.map { [("If-None-Match", $0)] } ?? [])
            var problem: String?
            switch answer {
            case .accepted(let response) where response.status == 200:
                if Array(response.body.prefix(8)) == Array("SSHKRL\n\0".utf8) {
                    do {
                        try DurableFile.write(response.body, to: file, mode: 0o644)
                        logger.notice(
                            "KRL updated: \(file) (\(response.body.count) bytes)",
                            metadata: ["posture.event": "krl-updated", "posture.path": "\(file)"])
                    } catch {
                        problem = "cannot write \(file): \(error)"
                    }
                } else {
                    problem = "the collector's KRL is not a KRL"
                }
            case .accepted: break
            case .refused(let body, _): problem = "the collector refused the KRL: \(body.message)"
            case .unavailable(let reason), .busy(let reason, _): problem = "the collector cannot be reached: \(reason)"
            }
            if let problem, problem != lastProblem {
                logger.warning("cannot refresh the KRL \(file) (kept as it is): \(problem)")
            }
            lastProblem = problem
            try? await Task.sleep(for: options.access.krlRefresh)
        }
    }
}

extension Agent {
    /// Writes the collector's SSH user CA key where sshd's `TrustedUserCAKeys` reads it (once a start:
    /// the CA does not change while the collector's state directory does not). True once written.
    func keepTrustedCA(beside krl: String) async -> Bool {
        let file =
            options.access.trustedUserCAKeysFile
            ?? URL(fileURLWithPath: krl).deletingLastPathComponent().appendingPathComponent("ssh-user-ca.pub").path
        guard
            case .accepted(let response) = await client.request("GET", "/v1/access/ssh-ca", body: nil, contentType: nil),
            response.status == 200,
            let key = try? SSHPublicKey(line: String(decoding: response.body, as: UTF8.self)), key.type == "ssh-ed25519"
        else { return false }
        let line = Array((key.line + "\n").utf8)
        if FileManager.default.contents(atPath: file).map(Array.init) == line { return true }
        do {
            try DurableFile.write(line, to: file, mode: 0o644)
            logger.notice("SSH user CA written to \(file) (sshd's TrustedUserCAKeys)")
            return true
        } catch {
            logger.warning("cannot write the SSH user CA to \(file): \(error)")
            return false
        }
    }
}

/// Why the agent would not forward a user's request, in words for the user.
struct AccessRequestError: Error, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
