import Hummingbird
import Logging
import NIOCore
import PostureModel
import PostureStore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The enrollment listener (TLS, server authentication only): the CA bundle and `POST /v1/enroll`.
struct EnrollmentRoutes: Sendable {
    let collector: CollectorCore

    func register(on router: Router<CollectorRequestContext>) {
        router.get("/healthz") { _, _ in Responses.text("ok\n", contentType: "text/plain") }
        router.get("/v1/ca") { _, _ in Responses.text(collector.ca.pem, contentType: "application/x-pem-file") }
        router.post("/v1/enroll/tpm-challenge") { request, context in
            do {
                let body = try await request.decodeJSON(TPMChallengeRequest.self, limit: 64 << 10)
                return Responses.json(try await collector.tpmChallenge(body))
            } catch {
                await collector.refused(error, deviceID: nil, peer: context.channel.remoteAddress?.description)
                return Responses.refusal(error)
            }
        }
        router.post("/v1/enroll") { request, context in
            do {
                let body = try await request.decodeJSON(EnrollmentRequest.self, limit: 64 << 10)
                let grant = try await collector.enroll(body, requestHost: request.head.authority)
                collector.metrics.enrollment(accepted: true)
                return Responses.json(grant)
            } catch {
                collector.metrics.enrollment(accepted: false, reason: AttestationRefusal(error).code.rawValue)
                await collector.refused(error, deviceID: nil, peer: context.channel.remoteAddress?.description)
                return Responses.refusal(error)
            }
        }
    }
}

/// The device listener (mutual TLS): attestations, nonces, certificate renewal.
struct DeviceRoutes: Sendable {
    let collector: CollectorCore

    func register(on router: Router<CollectorRequestContext>) {
        // Constant, for liveness checks and as the benchmark's reference route.
        router.get("/healthz") { _, _ in Responses.text("ok\n", contentType: "text/plain") }
        router.post("/v1/attestations") { request, context in
            var deviceID: String?
            do {
                let peer = try await collector.peers.identity(of: context.channel)
                deviceID = peer.identity.deviceID
                let body = try await request.collectBody(limit: collector.configuration.attestations.maxBodyBytes)
                let answer = try await collector.ingest(body: body, peer: peer)
                collector.metrics.attestation(accepted: true)
                return Responses.json(bytes: answer.body)
            } catch {
                collector.metrics.attestation(accepted: false, reason: AttestationRefusal(error).code.rawValue)
                await collector.refused(error, deviceID: deviceID, peer: context.channel.remoteAddress?.description)
                return Responses.refusal(error)
            }
        }
        // The device's own verdict; `?wait=30s` long-polls for a change (the agent's enforcement feed).
        router.get("/v1/verdict") { request, context in
            do {
                let peer = try await collector.peers.identity(of: context.channel)
                return try await APIRoutes.verdictResponse(
                    peer.identity.deviceID, request: request, collector: collector)
            } catch {
                return Responses.refusal(error)
            }
        }
        // What the agent's enforcement decided and did: kept with the device's history (`audit --device`).
        router.post("/v1/enforcement") { request, context in
            do {
                let peer = try await collector.peers.identity(of: context.channel)
                let records = try await request.decodeJSON([EnforcementRecord].self, limit: 1 << 20)
                try await collector.store.recordSecurityEvents(
                    records.prefix(2000).map { record in
                        SecurityEvent(
                            at: record.at, deviceID: peer.identity.deviceID,
                            code:
                                "enforcement.\(record.fields["POSTURE_ACTION"] ?? "-").\(record.fields["POSTURE_RESULT"] ?? "-")",
                            message: String(record.message.prefix(1000)),
                            peer: context.channel.remoteAddress?.description)
                    })
                return Responses.json(["accepted": records.count])
            } catch {
                return Responses.refusal(error)
            }
        }
        router.get("/v1/nonce") { _, context in
            do {
                let peer = try await collector.peers.identity(of: context.channel)
                return Responses.json(try await collector.issueNonce(deviceID: peer.identity.deviceID))
            } catch {
                return Responses.refusal(error)
            }
        }
        // The collector's current trust material, for a device that meets a verdict key it does not know
        // (a rotation): over the pinned, mutually authenticated channel, so nothing else needs trusting.
        router.get("/v1/keys") { _, context in
            do {
                _ = try await collector.peers.identity(of: context.channel)
                return Responses.json(TrustMaterial(caBundle: collector.ca.pem, verdictKeys: collector.keys.jwks()))
            } catch {
                return Responses.refusal(error)
            }
        }
        // Just-in-time access (PROTOCOL.md, "Access"): an SSH certificate for a user of this device, and
        // the KRL a target host's sshd reads (If-None-Match answered 304 while it is unchanged).
        router.post("/v1/access/ssh-certificate") { request, context in
            var deviceID: String?
            do {
                let peer = try await collector.peers.identity(of: context.channel)
                deviceID = peer.identity.deviceID
                let body = try await request.decodeJSON(SSHCertificateRequest.self, limit: 64 << 10)
                return Responses.json(try await collector.issueSSHCertificate(body, deviceID: peer.identity.deviceID))
            } catch {
                await collector.refused(error, deviceID: deviceID, peer: context.channel.remoteAddress?.description)
                return Responses.refusal(error)
            }
        }
        // The SSH user CA's public key line, for a target host's TrustedUserCAKeys (access.revokedKeysFile set).
        router.get("/v1/access/ssh-ca") { _, context in
            do {
                _ = try await collector.peers.identity(of: context.channel)
                let line = collector.sshCA.publicKeyLine(comment: "posture-ssh-user-ca") + "\n"
                return Response(
                    status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                    body: ResponseBody(byteBuffer: ByteBuffer(string: line)))
            } catch {
                return Responses.refusal(error)
            }
        }
        router.get("/v1/access/ssh-krl") { request, context in
            do {
                _ = try await collector.peers.identity(of: context.channel)
                let krl = try await collector.sshKRL()
                if request.headers[.ifNoneMatch] == krl.etag {
                    return Response(status: .notModified, headers: [.eTag: krl.etag])
                }
                return Response(
                    status: .ok, headers: [.contentType: "application/octet-stream", .eTag: krl.etag],
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: krl.bytes)))
            } catch {
                return Responses.refusal(error)
            }
        }
        // Time-bound sudo (PROTOCOL.md, "Access"): a user's request, and the device's grants, which the
        // agent keeps its sudoers drop-ins equal to.
        router.post("/v1/access/sudo") { request, context in
            var deviceID: String?
            do {
                let peer = try await collector.peers.identity(of: context.channel)
                deviceID = peer.identity.deviceID
                let body = try await request.decodeJSON(SudoGrantRequest.self, limit: 16 << 10)
                return Responses.json(try await collector.requestSudo(body, deviceID: peer.identity.deviceID))
            } catch {
                await collector.refused(error, deviceID: deviceID, peer: context.channel.remoteAddress?.description)
                return Responses.refusal(error)
            }
        }
        router.get("/v1/access/sudo") { _, context in
            do {
                let peer = try await collector.peers.identity(of: context.channel)
                return Responses.json(try await collector.sudoGrants(deviceID: peer.identity.deviceID))
            } catch {
                return Responses.refusal(error)
            }
        }
        router.post("/v1/renew") { request, context in
            var deviceID: String?
            do {
                let peer = try await collector.peers.identity(of: context.channel)
                deviceID = peer.identity.deviceID
                let body = try await request.decodeJSON(RenewalRequest.self, limit: 64 << 10)
                return Responses.json(try await collector.renew(body, peer: peer))
            } catch {
                await collector.refused(error, deviceID: deviceID, peer: context.channel.remoteAddress?.description)
                return Responses.refusal(error)
            }
        }
    }
}
