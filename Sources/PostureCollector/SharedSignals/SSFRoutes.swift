import Foundation
import Hummingbird
import NIOConcurrencyHelpers
import PostureModel
import PostureStore

/// The Shared Signals transmitter's HTTP side (SSF 1.0 §7-8): discovery, stream management (create, read,
/// update, replace, delete), stream status, verification, and RFC 8936 poll. A receiver authenticates with
/// an API token (or client certificate) with `ssf:manage`, or an OAuth access token of `ssf.accessTokens`,
/// and sees only the streams it created.
struct SSFRoutes: Sendable {
    let collector: CollectorCore
    var transmitter: SignalTransmitter { collector.transmitter }

    func register(on router: Router<CollectorRequestContext>) {
        router.get("/.well-known/ssf-configuration") { _, _ in
            Responses.json(SSFConfiguration(issuer: collector.issuer, oauth: collector.receiverTokens != nil))
        }
        router.post("/ssf/streams") { request, context in
            do {
                let receiver = try await collector.authorizeReceiver(request, channel: context.channel)
                let body = try await request.decodeJSON(StreamConfiguration.self, limit: 64 << 10)
                let stream = try body.record(
                    .create, id: UUID().uuidString.lowercased(), tokenID: receiver.id, existing: nil,
                    issuer: collector.issuer, audience: receiver.clientID ?? "posture-receiver")
                try await transmitter.save(stream)
                await record("ssf-stream-create", stream, receiver, reason: stream.endpointURL ?? "poll")
                return Responses.json(StreamConfiguration(stream, issuer: collector.issuer), status: .created)
            } catch {
                return Responses.refusal(error)
            }
        }
        router.get("/ssf/streams") { request, context in
            do {
                let receiver = try await collector.authorizeReceiver(request, channel: context.channel)
                if let id = request.uri.queryParameters["stream_id"] {
                    let stream = try await owned(String(id), by: receiver)
                    return Responses.json(StreamConfiguration(stream, issuer: collector.issuer))
                }
                return Responses.json(
                    await transmitter.streams(tokenID: receiver.id).map {
                        StreamConfiguration($0, issuer: collector.issuer)
                    })
            } catch {
                return Responses.refusal(error)
            }
        }
        router.patch("/ssf/streams") { request, context in
            await change(.update, request, context)
        }
        router.put("/ssf/streams") { request, context in
            await change(.replace, request, context)
        }
        router.delete("/ssf/streams") { request, context in
            do {
                let receiver = try await collector.authorizeReceiver(request, channel: context.channel)
                var stream = try await owned(request.uri.queryParameters["stream_id"].map(String.init), by: receiver)
                stream.status = "deleted"
                try await transmitter.save(stream)
                await record("ssf-stream-delete", stream, receiver, reason: "deleted by its receiver")
                return Response(status: .noContent)
            } catch {
                return Responses.refusal(error)
            }
        }
        router.get("/ssf/status") { request, context in
            do {
                let receiver = try await collector.authorizeReceiver(request, channel: context.channel)
                let stream = try await owned(request.uri.queryParameters["stream_id"].map(String.init), by: receiver)
                return Responses.json(
                    StreamStatus(streamID: stream.id, status: stream.status, reason: stream.statusReason))
            } catch {
                return Responses.refusal(error)
            }
        }
        router.post("/ssf/status") { request, context in
            do {
                let receiver = try await collector.authorizeReceiver(request, channel: context.channel)
                let body = try await request.decodeJSON(StreamStatus.self, limit: 16 << 10)
                let stream = try await owned(body.streamID, by: receiver)
                guard StreamStatus.values.contains(body.status) else {
                    throw AttestationRefusal(
                        .malformedRequest, "status must be one of \(StreamStatus.values.joined(separator: ", "))")
                }
                guard (body.reason ?? "").utf8.count <= 1024 else {
                    throw AttestationRefusal(.malformedRequest, "reason: at most 1024 bytes")
                }
                let updated = try await transmitter.setStatus(stream, to: body.status, reason: body.reason)
                await record("ssf-stream-\(body.status)", updated, receiver, reason: body.reason ?? "")
                return Responses.json(
                    StreamStatus(streamID: updated.id, status: updated.status, reason: updated.statusReason))
            } catch {
                return Responses.refusal(error)
            }
        }
        router.post("/ssf/verify") { request, context in
            do {
                let receiver = try await collector.authorizeReceiver(request, channel: context.channel)
                let body = try await request.decodeJSON(VerificationRequest.self, limit: 16 << 10)
                let stream = try await owned(body.streamID, by: receiver)
                guard (body.state ?? "").utf8.count <= 1024 else {
                    throw AttestationRefusal(.malformedRequest, "state: at most 1024 bytes")
                }
                try await transmitter.verify(stream, state: body.state)
                return Response(status: .noContent)
            } catch {
                return Responses.refusal(error)
            }
        }
        router.post("/ssf/poll/{id}") { request, context in
            do {
                let receiver = try await collector.authorizeReceiver(request, channel: context.channel)
                let stream = try await owned(try context.parameters.require("id"), by: receiver)
                guard stream.deliveryMethod == SignalTransmitter.pollMethod else {
                    throw AttestationRefusal(.notFound, "stream \(stream.id) is delivered by push, not polled")
                }
                let body = try await request.decodeJSON(PollRequest.self, limit: 1 << 20)
                let (sets, more) = try await transmitter.poll(
                    streamID: stream.id, acks: body.ack ?? [], errors: body.setErrs ?? [:],
                    maxEvents: min(max(body.maxEvents ?? 100, 0), 1000),
                    wait: body.returnImmediately == true ? nil : .seconds(30))
                return Responses.json(PollResponse(sets: sets, moreAvailable: more))
            } catch {
                return Responses.refusal(error)
            }
        }
    }

    /// PATCH and PUT: the body names the stream by `stream_id`.
    private func change(_ kind: StreamConfiguration.Change, _ request: Request, _ context: CollectorRequestContext)
        async -> Response
    {
        do {
            let receiver = try await collector.authorizeReceiver(request, channel: context.channel)
            let body = try await request.decodeJSON(StreamConfiguration.self, limit: 64 << 10)
            let existing = try await owned(body.streamID, by: receiver)
            let stream = try body.record(
                kind, id: existing.id, tokenID: existing.tokenID, existing: existing, issuer: collector.issuer)
            try await transmitter.save(stream)
            await record("ssf-stream-update", stream, receiver, reason: stream.endpointURL ?? "poll")
            return Responses.json(StreamConfiguration(stream, issuer: collector.issuer))
        } catch {
            return Responses.refusal(error)
        }
    }

    /// The stream `id`, if `receiver` created it: a receiver sees only its own streams.
    func owned(_ id: String?, by receiver: SignalReceiver) async throws(AttestationRefusal) -> StreamRecord {
        guard let id, !id.isEmpty else {
            throw AttestationRefusal(
                .malformedRequest, "name the stream with stream_id; list yours with GET /ssf/streams")
        }
        guard let stream = await transmitter.stream(id), stream.tokenID == receiver.id else {
            throw AttestationRefusal(.notFound, "no stream \(id) for this receiver; list yours with GET /ssf/streams")
        }
        return stream
    }

    /// Stream changes go to the audit trail under the receiver's credential.
    private func record(_ action: String, _ stream: StreamRecord, _ receiver: SignalReceiver, reason: String) async {
        try? await collector.store.recordOperatorAction(
            OperatorAction(
                at: Date(), actor: receiver.actor, action: action,
                deviceID: nil, target: stream.id, reason: reason))
    }
}

/// Who manages a stream: an API credential with `ssf:manage`, or an OAuth client (`ReceiverAccessTokens`).
struct SignalReceiver: Sendable {
    /// What its streams are stored under: the API token's ID, or `oauth:<client_id>@<issuer>`.
    let id: String
    /// The OAuth client, for an access token.
    let clientID: String?
    /// How the audit trail names it.
    let actor: String

    init(apiToken: APITokenRecord) {
        id = apiToken.id
        clientID = nil
        actor = "apitoken:\(apiToken.name)"
    }

    init(clientID: String, issuer: String) {
        id = "oauth:\(clientID)@\(issuer)"
        self.clientID = clientID
        actor = id
    }
}
