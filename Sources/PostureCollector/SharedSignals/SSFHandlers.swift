import PostureModel
import PostureSSFAPI
import PostureStore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The Shared Signals transmitter's endpoints (SSF 1.0 §7-8) as openapi.yaml declares them
/// (`PostureSSFAPI.APIProtocol`, generated): stream management (create, read, update, replace, delete),
/// status, verification, and RFC 8936 poll. The receiver is in `SignalReceiver.current`, set by
/// `APIAuthentication`, and sees only the streams it created. Discovery is a hand-written route (`SSFRoutes`).
struct SSFHandlers: APIProtocol {
    let collector: CollectorCore
    var transmitter: SignalTransmitter { collector.transmitter }

    private var receiver: SignalReceiver {
        get throws(AttestationRefusal) {
            guard let receiver = SignalReceiver.current else {
                throw AttestationRefusal(.internalError, "an SSF handler ran without APIAuthentication")
            }
            return receiver
        }
    }

    func createStream(_ input: Operations.CreateStream.Input) async throws -> Operations.CreateStream.Output {
        guard case .json(let body) = input.body else { throw Wire.unsupportedBody }
        let receiver = try receiver
        let request = try Wire.request(body, to: StreamConfiguration.self)
        let stream = try request.record(
            .create, id: UUID().uuidString.lowercased(), tokenID: receiver.id, existing: nil,
            issuer: collector.issuer, audience: receiver.clientID ?? "posture-receiver")
        try await transmitter.save(stream)
        await record("ssf-stream-create", stream, receiver, reason: stream.endpointURL ?? "poll")
        return .created(.init(body: .json(try Wire.convert(StreamConfiguration(stream, issuer: collector.issuer)))))
    }

    func getStreams(_ input: Operations.GetStreams.Input) async throws -> Operations.GetStreams.Output {
        let receiver = try receiver
        if let id = input.query.streamId {
            let stream = try await owned(id, by: receiver)
            return .ok(.init(body: .json(try Wire.convert(StreamConfiguration(stream, issuer: collector.issuer)))))
        }
        let streams = await transmitter.streams(tokenID: receiver.id).map {
            StreamConfiguration($0, issuer: collector.issuer)
        }
        return .ok(.init(body: .json(try Wire.convert(streams))))
    }

    func updateStream(_ input: Operations.UpdateStream.Input) async throws -> Operations.UpdateStream.Output {
        guard case .json(let body) = input.body else { throw Wire.unsupportedBody }
        return .ok(.init(body: .json(try await change(.update, try Wire.request(body)))))
    }

    func replaceStream(_ input: Operations.ReplaceStream.Input) async throws -> Operations.ReplaceStream.Output {
        guard case .json(let body) = input.body else { throw Wire.unsupportedBody }
        return .ok(.init(body: .json(try await change(.replace, try Wire.request(body)))))
    }

    func deleteStream(_ input: Operations.DeleteStream.Input) async throws -> Operations.DeleteStream.Output {
        let receiver = try receiver
        var stream = try await owned(input.query.streamId, by: receiver)
        stream.status = "deleted"
        try await transmitter.save(stream)
        await record("ssf-stream-delete", stream, receiver, reason: "deleted by its receiver")
        return .noContent(.init())
    }

    func getStreamStatus(_ input: Operations.GetStreamStatus.Input) async throws -> Operations.GetStreamStatus.Output {
        let stream = try await owned(input.query.streamId, by: try receiver)
        let status = StreamStatus(streamID: stream.id, status: stream.status, reason: stream.statusReason)
        return .ok(.init(body: .json(try Wire.convert(status))))
    }

    func setStreamStatus(_ input: Operations.SetStreamStatus.Input) async throws -> Operations.SetStreamStatus.Output {
        guard case .json(let body) = input.body else { throw Wire.unsupportedBody }
        let receiver = try receiver
        let request = try Wire.request(body, to: StreamStatus.self)
        let stream = try await owned(request.streamID, by: receiver)
        guard StreamStatus.values.contains(request.status) else {
            throw AttestationRefusal(
                .malformedRequest, "status must be one of \(StreamStatus.values.joined(separator: ", "))")
        }
        guard (request.reason ?? "").utf8.count <= 1024 else {
            throw AttestationRefusal(.malformedRequest, "reason: at most 1024 bytes")
        }
        let updated = try await transmitter.setStatus(stream, to: request.status, reason: request.reason)
        await record("ssf-stream-\(request.status)", updated, receiver, reason: request.reason ?? "")
        let status = StreamStatus(streamID: updated.id, status: updated.status, reason: updated.statusReason)
        return .ok(.init(body: .json(try Wire.convert(status))))
    }

    func verifyStream(_ input: Operations.VerifyStream.Input) async throws -> Operations.VerifyStream.Output {
        guard case .json(let body) = input.body else { throw Wire.unsupportedBody }
        let request = try Wire.request(body, to: VerificationRequest.self)
        let stream = try await owned(request.streamID, by: try receiver)
        guard (request.state ?? "").utf8.count <= 1024 else {
            throw AttestationRefusal(.malformedRequest, "state: at most 1024 bytes")
        }
        try await transmitter.verify(stream, state: request.state)
        return .noContent(.init())
    }

    func pollStream(_ input: Operations.PollStream.Input) async throws -> Operations.PollStream.Output {
        guard case .json(let body) = input.body else { throw Wire.unsupportedBody }
        let stream = try await owned(input.path.id, by: try receiver)
        guard stream.deliveryMethod == SignalTransmitter.pollMethod else {
            throw AttestationRefusal(.notFound, "stream \(stream.id) is delivered by push, not polled")
        }
        let request = try Wire.request(body, to: PollRequest.self)
        let (sets, more) = try await transmitter.poll(
            streamID: stream.id, acks: request.ack ?? [], errors: request.setErrs ?? [:],
            maxEvents: min(max(request.maxEvents ?? 100, 0), 1000),
            wait: request.returnImmediately == true ? nil : .seconds(30))
        return .ok(.init(body: .json(try Wire.convert(PollResponse(sets: sets, moreAvailable: more)))))
    }

    /// PATCH and PUT: the body names the stream by `stream_id`.
    private func change(_ kind: StreamConfiguration.Change, _ request: StreamConfiguration) async throws
        -> Components.Schemas.StreamConfiguration
    {
        let receiver = try receiver
        let existing = try await owned(request.streamID, by: receiver)
        let stream = try request.record(
            kind, id: existing.id, tokenID: existing.tokenID, existing: existing, issuer: collector.issuer)
        try await transmitter.save(stream)
        await record("ssf-stream-update", stream, receiver, reason: stream.endpointURL ?? "poll")
        return try Wire.convert(StreamConfiguration(stream, issuer: collector.issuer))
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
                at: Date(), actor: receiver.actor, action: action, deviceID: nil, target: stream.id, reason: reason))
    }
}
