import Foundation
import Hummingbird
import NIOConcurrencyHelpers
import PostureModel
import PostureStore
import PostureVerdict

/// The API listener (TLS, bearer tokens with scopes): signed verdicts for policy engines, the JWKS, and
/// the Shared Signals transmitter (discovery, stream management, poll).
struct APIRoutes: Sendable {
    let collector: CollectorCore

    var verdicts: VerdictService { collector.verdicts }
    var transmitter: SignalTransmitter { collector.transmitter }

    func register(on router: Router<CollectorRequestContext>) {
        router.get("/healthz") { _, _ in Responses.text("ok\n", contentType: "text/plain") }
        // Prometheus text format; Prometheus sends the API token as `authorization: {credentials: …}`.
        router.get("/metrics") { request, context in
            do {
                _ = try await collector.authorize(request, channel: context.channel, scope: "metrics:read")
                collector.metrics.verdicts(await collector.verdicts.statusCounts())
                await collector.refreshMetrics()
                return Responses.text(collector.metrics.render(), contentType: "text/plain; version=0.0.4")
            } catch {
                return Responses.refusal(error)
            }
        }
        router.get("/.well-known/jwks.json") { _, _ in
            // Relying parties may cache the key set, but not for longer than a rotation's overlap: a new
            // key is published before it signs, so a copy up to max-age old still verifies every verdict.
            var response = Responses.text(collector.keys.jwks(), contentType: "application/jwk-set+json")
            response.headers[.cacheControl] = "public, max-age=300, must-revalidate"
            return response
        }
        router.get("/.well-known/ssf-configuration") { _, _ in
            let issuer = collector.issuer
            return Responses.json(
                SSFConfiguration(
                    specVersion: "1_0", issuer: issuer, jwksURI: issuer + "/.well-known/jwks.json",
                    deliveryMethodsSupported: [SignalTransmitter.pushMethod, SignalTransmitter.pollMethod],
                    configurationEndpoint: issuer + "/ssf/streams", statusEndpoint: issuer + "/ssf/status",
                    authorizationSchemes: [["spec_urn": "urn:ietf:rfc:6750"]], defaultSubjects: "ALL"))
        }
        router.get("/v1/devices/{id}/verdict") { request, context in
            do {
                _ = try await collector.authorize(request, channel: context.channel, scope: "verdict:read")
                let lookup = try context.parameters.require("id")
                let id = try await verdicts.resolve(.init(lookup.removingPercentEncoding ?? lookup))
                return try await Self.verdictResponse(id, request: request, collector: collector)
            } catch {
                return Responses.refusal(error)
            }
        }
        router.post("/ssf/streams") { request, context in
            do {
                let token = try await collector.authorize(request, channel: context.channel, scope: "ssf:manage")
                let body = try await request.decodeJSON(StreamConfiguration.self, limit: 64 << 10)
                let stream = try body.record(id: UUID().uuidString.lowercased(), tokenID: token.id, existing: nil)
                try await transmitter.save(stream)
                try? await collector.store.recordOperatorAction(
                    OperatorAction(
                        at: Date(), actor: "apitoken:\(token.name)", action: "ssf-stream-create", deviceID: nil,
                        target: stream.id, reason: stream.endpointURL ?? "poll"))
                return Responses.json(StreamConfiguration(stream, issuer: collector.issuer), status: .created)
            } catch {
                return Responses.refusal(error)
            }
        }
        router.get("/ssf/streams") { request, context in
            do {
                let token = try await collector.authorize(request, channel: context.channel, scope: "ssf:manage")
                if request.uri.queryParameters["stream_id"] != nil {
                    let stream = try await ownedStream(request, token: token)
                    return Responses.json(StreamConfiguration(stream, issuer: collector.issuer))
                }
                return Responses.json(
                    await transmitter.streams(tokenID: token.id).map {
                        StreamConfiguration($0, issuer: collector.issuer)
                    })
            } catch {
                return Responses.refusal(error)
            }
        }
        router.delete("/ssf/streams") { request, context in
            do {
                let token = try await collector.authorize(request, channel: context.channel, scope: "ssf:manage")
                var stream = try await ownedStream(request, token: token)
                stream.status = "deleted"
                try await transmitter.save(stream)
                return Response(status: .noContent)
            } catch {
                return Responses.refusal(error)
            }
        }
        router.get("/ssf/status") { request, context in
            do {
                let token = try await collector.authorize(request, channel: context.channel, scope: "ssf:manage")
                let stream = try await ownedStream(request, token: token)
                return Responses.json(["stream_id": stream.id, "status": stream.status])
            } catch {
                return Responses.refusal(error)
            }
        }
        router.post("/ssf/poll/{id}") { request, context in
            do {
                let token = try await collector.authorize(request, channel: context.channel, scope: "ssf:manage")
                let id = try context.parameters.require("id")
                guard let stream = await transmitter.stream(id), stream.tokenID == token.id,
                    stream.deliveryMethod == SignalTransmitter.pollMethod
                else { throw AttestationRefusal(.notFound, "no poll stream \(id) for this token") }
                let body = try await request.decodeJSON(PollRequest.self, limit: 1 << 20)
                let (sets, more) = try await transmitter.poll(
                    streamID: id, acks: body.ack ?? [], errors: body.setErrs ?? [:],
                    maxEvents: min(max(body.maxEvents ?? 100, 0), 1000),
                    wait: body.returnImmediately == true ? nil : .seconds(30))
                return Responses.json(PollResponse(sets: sets, moreAvailable: more))
            } catch {
                return Responses.refusal(error)
            }
        }
    }

    /// The stream named by `?stream_id=`, if `token` created it: a token sees only its own streams.
    func ownedStream(_ request: Request, token: APITokenRecord) async throws -> StreamRecord {
        let id = request.uri.queryParameters["stream_id"].map(String.init) ?? ""
        guard let stream = await transmitter.stream(id), stream.tokenID == token.id else {
            throw AttestationRefusal(.notFound, "no stream \(id) for this token; list them with GET /ssf/streams")
        }
        return stream
    }

    /// JSON and JWT, with an ETag; with If-None-Match, `?wait=30s` long-polls until the verdict differs
    /// (304 when it did not change in time).
    static func verdictResponse(_ id: String, request: Request, collector: CollectorCore) async throws -> Response {
        let known = request.headers[.ifNoneMatch].map { tag in
            String(tag.hasPrefix("W/") ? tag.dropFirst(2) : Substring(tag)).filter { $0 != "\"" && $0 != " " }
        }
        if let wait = request.uri.queryParameters["wait"].map(String.init) {
            guard let duration = DurationText(wait), duration.seconds <= 300 else {
                throw AttestationRefusal(.malformedRequest, "wait=\(wait) is not a duration up to 300s (e.g. wait=30s)")
            }
            // Long-polls only against a known version: without If-None-Match the answer is immediate.
            if let known { _ = await collector.verdicts.waitForChange(id, from: known, timeout: duration.duration) }
        }
        guard let signed = await collector.verdicts.signedVerdict(id) else {
            throw AttestationRefusal(.notFound, "device \(id) has no verdict")
        }
        let etag = "\"\(signed.version)\""
        if known == signed.version {
            return Response(status: .notModified, headers: [.eTag: etag])
        }
        return Response(
            status: .ok, headers: [.contentType: "application/json", .eTag: etag, .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: signed.body)))
    }
}

struct VerdictResponse: Codable, Sendable {
    var verdict: Verdict
    var jwt: String
}

struct SSFConfiguration: Encodable {
    var specVersion: String
    var issuer: String
    var jwksURI: String
    var deliveryMethodsSupported: [String]
    var configurationEndpoint: String
    var statusEndpoint: String
    var authorizationSchemes: [[String: String]]
    var defaultSubjects: String

    enum CodingKeys: String, CodingKey {
        case issuer
        case specVersion = "spec_version"
        case jwksURI = "jwks_uri"
        case deliveryMethodsSupported = "delivery_methods_supported"
        case configurationEndpoint = "configuration_endpoint"
        case statusEndpoint = "status_endpoint"
        case authorizationSchemes = "authorization_schemes"
        case defaultSubjects = "default_subjects"
    }
}

struct PollRequest: Decodable {
    var maxEvents: Int?
    var returnImmediately: Bool?
    var ack: [String]?
    var setErrs: [String: SignalTransmitter.DeliveryError]?
}

struct PollResponse: Encodable {
    var sets: [String: String]
    var moreAvailable: Bool
}

/// A stream's configuration as SSF writes it (with `postureSigningAlg`: RS256 by default, or ES256).
struct StreamConfiguration: Codable {
    struct Delivery: Codable {
        var method: String
        var endpointURL: String?
        var authorizationHeader: String?

        enum CodingKeys: String, CodingKey {
            case method
            case endpointURL = "endpoint_url"
            case authorizationHeader = "authorization_header"
        }
    }

    var streamID: String?
    var iss: String?
    var aud: String?
    var delivery: Delivery
    var eventsSupported: [String]?
    var eventsRequested: [String]?
    var eventsDelivered: [String]?
    var postureSigningAlg: String?

    enum CodingKeys: String, CodingKey {
        case iss, aud, delivery
        case streamID = "stream_id"
        case eventsSupported = "events_supported"
        case eventsRequested = "events_requested"
        case eventsDelivered = "events_delivered"
        case postureSigningAlg = "posture_signing_alg"
    }

    init(_ stream: StreamRecord, issuer: String) {
        streamID = stream.id
        iss = issuer
        aud = stream.audience
        delivery = Delivery(
            method: stream.deliveryMethod,
            endpointURL: stream.deliveryMethod == SignalTransmitter.pollMethod
                ? issuer + "/ssf/poll/" + stream.id : stream.endpointURL,
            authorizationHeader: nil)
        eventsSupported = [SignalTransmitter.complianceChange]
        eventsRequested = stream.eventsRequested
        eventsDelivered = stream.eventsRequested.filter { $0 == SignalTransmitter.complianceChange }
        postureSigningAlg = stream.algorithm
    }

    func record(id: String, tokenID: String, existing: StreamRecord?) throws(AttestationRefusal) -> StreamRecord {
        guard delivery.method == SignalTransmitter.pushMethod || delivery.method == SignalTransmitter.pollMethod else {
            throw AttestationRefusal(
                .malformedRequest,
                "delivery.method must be \(SignalTransmitter.pushMethod) (push) or \(SignalTransmitter.pollMethod) (poll)"
            )
        }
        if delivery.method == SignalTransmitter.pushMethod {
            guard let url = delivery.endpointURL, let parsed = URL(string: url),
                ["http", "https"].contains(parsed.scheme ?? "")
            else {
                throw AttestationRefusal(.malformedRequest, "push delivery needs delivery.endpointURL, an http(s) URL")
            }
        }
        let algorithm = postureSigningAlg ?? "RS256"
        guard algorithm == "RS256" || algorithm == "ES256" else {
            throw AttestationRefusal(.malformedRequest, "posture_signing_alg must be RS256 or ES256")
        }
        return StreamRecord(
            id: id, audience: aud ?? "posture-receiver", deliveryMethod: delivery.method,
            endpointURL: delivery.method == SignalTransmitter.pushMethod ? delivery.endpointURL : nil,
            authorizationHeader: delivery.authorizationHeader,
            eventsRequested: eventsRequested ?? [SignalTransmitter.complianceChange], algorithm: algorithm,
            status: "enabled", createdAt: existing?.createdAt ?? Date(), tokenID: tokenID)
    }
}
