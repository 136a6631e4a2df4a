import Foundation
import PostureModel
import PostureStore

/// The transmitter's metadata (SSF 1.0 §7.1), at `/.well-known/ssf-configuration`.
struct SSFConfiguration: Encodable {
    var specVersion = "1_0"
    var issuer: String
    var jwksURI: String
    var deliveryMethodsSupported: [String]
    var configurationEndpoint: String
    var statusEndpoint: String
    var verificationEndpoint: String
    var authorizationSchemes: [[String: String]]
    var defaultSubjects = "ALL"

    enum CodingKeys: String, CodingKey {
        case issuer
        case specVersion = "spec_version"
        case jwksURI = "jwks_uri"
        case deliveryMethodsSupported = "delivery_methods_supported"
        case configurationEndpoint = "configuration_endpoint"
        case statusEndpoint = "status_endpoint"
        case verificationEndpoint = "verification_endpoint"
        case authorizationSchemes = "authorization_schemes"
        case defaultSubjects = "default_subjects"
    }

    init(issuer: String, oauth: Bool) {
        self.issuer = issuer
        jwksURI = issuer + "/.well-known/jwks.json"
        deliveryMethodsSupported = [SignalTransmitter.pushMethod, SignalTransmitter.pollMethod]
        configurationEndpoint = issuer + "/ssf/streams"
        statusEndpoint = issuer + "/ssf/status"
        verificationEndpoint = issuer + "/ssf/verify"
        // Bearer tokens always (RFC 6750); OAuth access tokens (RFC 6749) when an authorization server is set.
        authorizationSchemes =
            (oauth ? [["spec_urn": "urn:ietf:rfc:6749"]] : []) + [["spec_urn": "urn:ietf:rfc:6750"]]
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

/// `POST /ssf/status` (SSF §8.1.2.2) and the answer of both status methods.
struct StreamStatus: Codable {
    var streamID: String
    var status: String
    var reason: String?

    enum CodingKeys: String, CodingKey {
        case status, reason
        case streamID = "stream_id"
    }

    static let values = ["enabled", "paused", "disabled"]
}

/// `POST /ssf/verify` (SSF §8.1.4.2).
struct VerificationRequest: Decodable {
    var streamID: String
    var state: String?

    enum CodingKeys: String, CodingKey {
        case state
        case streamID = "stream_id"
    }
}

/// A stream's configuration as SSF 1.0 §8.1.1 writes it, with two members of ours:
/// `posture_signing_alg` (RS256, the interoperability profile's, or ES256) and `posture_subject_format`
/// (`iss_sub`, or `uri` for receivers built on our first SETs).
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
    var delivery: Delivery?
    var eventsSupported: [String]?
    var eventsRequested: [String]?
    var eventsDelivered: [String]?
    var description: String?
    var minVerificationInterval: Int?
    var postureSigningAlg: String?
    var postureSubjectFormat: String?

    enum CodingKeys: String, CodingKey {
        case iss, aud, delivery, description
        case streamID = "stream_id"
        case eventsSupported = "events_supported"
        case eventsRequested = "events_requested"
        case eventsDelivered = "events_delivered"
        case minVerificationInterval = "min_verification_interval"
        case postureSigningAlg = "posture_signing_alg"
        case postureSubjectFormat = "posture_subject_format"
    }

    /// A receiver may ask for a verification event no more often than this, in seconds.
    static let minVerificationInterval = 10

    init(_ stream: StreamRecord, issuer: String) {
        streamID = stream.id
        iss = issuer
        aud = stream.audience
        delivery = Delivery(
            method: stream.deliveryMethod,
            endpointURL: stream.deliveryMethod == SignalTransmitter.pollMethod
                ? issuer + "/ssf/poll/" + stream.id : stream.endpointURL,
            authorizationHeader: nil)
        eventsSupported = SecurityEvents.supported
        eventsRequested = stream.eventsRequested
        eventsDelivered = stream.eventsRequested.filter { SecurityEvents.supported.contains($0) }
        description = stream.description
        minVerificationInterval = Self.minVerificationInterval
        postureSigningAlg = stream.algorithm
        postureSubjectFormat = stream.subjectFormat
    }

    /// How the request changes a stream: a new one (`existing` nil, POST), a replacement (PUT: what the
    /// request leaves out takes its default) or an update (PATCH: what it leaves out stays).
    enum Change { case create, replace, update }

    /// `audience` is the `aud` of a new stream that does not name one.
    func record(
        _ change: Change, id: String, tokenID: String, existing: StreamRecord?, issuer: String,
        audience: String = "posture-receiver"
    ) throws(AttestationRefusal) -> StreamRecord {
        // Transmitter-supplied members may be sent back, but only as they are (SSF §8.1.1).
        if let existing {
            let current = StreamConfiguration(existing, issuer: issuer)
            let checks: [(String, Bool)] = [
                ("iss", iss == nil || iss == current.iss), ("aud", aud == nil || aud == current.aud),
                ("events_supported", eventsSupported == nil || eventsSupported == current.eventsSupported),
                ("events_delivered", eventsDelivered == nil || eventsDelivered == current.eventsDelivered),
            ]
            if let (name, _) = checks.first(where: { !$0.1 }) {
                throw AttestationRefusal(
                    .malformedRequest, "\(name) is the transmitter's to set; send it as read, or leave it out")
            }
        }
        let keep = change == .update ? existing : nil
        let delivery =
            self.delivery
            ?? keep.map {
                Delivery(
                    method: $0.deliveryMethod, endpointURL: $0.endpointURL, authorizationHeader: $0.authorizationHeader)
            }
        let method = delivery?.method ?? SignalTransmitter.pollMethod
        guard method == SignalTransmitter.pushMethod || method == SignalTransmitter.pollMethod else {
            throw AttestationRefusal(
                .malformedRequest,
                "delivery.method must be \(SignalTransmitter.pushMethod) (push) or \(SignalTransmitter.pollMethod) (poll)"
            )
        }
        var endpoint: String?
        if method == SignalTransmitter.pushMethod {
            guard let url = delivery?.endpointURL, let parsed = URL(string: url),
                ["http", "https"].contains(parsed.scheme ?? "")
            else {
                throw AttestationRefusal(.malformedRequest, "push delivery needs delivery.endpoint_url, an http(s) URL")
            }
            endpoint = url
        }
        let algorithm = postureSigningAlg ?? keep?.algorithm ?? "RS256"
        guard algorithm == "RS256" || algorithm == "ES256" else {
            throw AttestationRefusal(.malformedRequest, "posture_signing_alg must be RS256 or ES256")
        }
        let subjectFormat = postureSubjectFormat ?? keep?.subjectFormat ?? "iss_sub"
        guard SecurityEvents.subjectFormats.contains(subjectFormat) else {
            throw AttestationRefusal(
                .malformedRequest,
                "posture_subject_format must be one of \(SecurityEvents.subjectFormats.joined(separator: ", "))")
        }
        let requested = eventsRequested ?? keep?.eventsRequested ?? [SecurityEvents.complianceChange]
        guard requested.count <= 64, requested.allSatisfy({ $0.utf8.count <= 256 }) else {
            throw AttestationRefusal(.malformedRequest, "events_requested: at most 64 event type URIs")
        }
        guard (aud ?? "").utf8.count <= 256 else {
            throw AttestationRefusal(.malformedRequest, "aud: at most 256 bytes")
        }
        guard (description ?? "").utf8.count <= 1024 else {
            throw AttestationRefusal(.malformedRequest, "description: at most 1024 bytes")
        }
        return StreamRecord(
            id: id, audience: existing?.audience ?? aud ?? audience, deliveryMethod: method,
            endpointURL: endpoint,
            authorizationHeader: method == SignalTransmitter.pushMethod ? delivery?.authorizationHeader : nil,
            eventsRequested: requested, algorithm: algorithm, status: existing?.status ?? "enabled",
            createdAt: existing?.createdAt ?? Date(), tokenID: tokenID, statusReason: existing?.statusReason,
            description: description ?? keep?.description, subjectFormat: subjectFormat)
    }
}
