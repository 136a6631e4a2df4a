import HTTPTypes
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

/// JSON responses: a value, or a refusal as an RFC 9457 problem with the status its code maps to.
enum Responses {
    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? PostureReport.wireEncoder().encode(value)) ?? Data("{}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// JSON already encoded.
    static func json(bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func refusal(_ error: any Error) -> Response {
        let refusal = forClient(error)
        var response = json(ErrorBody(refusal), status: HTTPResponse.Status(code: refusal.code.httpStatus))
        response.headers[.contentType] = ErrorBody.mediaType
        // Clients add their own jitter on top, so a crowd told to wait does not come back at once.
        if refusal.code == .overloaded { response.headers[.retryAfter] = "\(Self.retryAfterSeconds)" }
        // RFC 6750 §3: how to authenticate, and for a token that lacks a scope, that it does.
        if refusal.code == .unauthorized {
            response.headers[.wwwAuthenticate] = #"Bearer realm="posture-collector", error="invalid_token""#
        } else if refusal.code == .insufficientScope {
            response.headers[.wwwAuthenticate] = #"Bearer realm="posture-collector", error="insufficient_scope""#
        }
        return response
    }

    private static let internalErrors = Logger(label: "posture-collector")

    /// What a client is told of an error. The collector's own failure is logged, and its words (a path, a
    /// database error) stay in the journal: the client gets an incident ID to quote.
    static func forClient(_ error: any Error) -> AttestationRefusal {
        var refusal = AttestationRefusal(error)
        if refusal.code == .internalError {
            let incident = String(UInt64.random(in: 0...UInt64.max), radix: 16)
            internalErrors.error(
                "\(refusal.message)",
                metadata: ["posture.event": "internal-error", "posture.incident": "\(incident)"])
            refusal.message =
                "the collector failed (incident \(incident)); its journal has the cause: journalctl -u posture-collector POSTURE_INCIDENT=\(incident)"
        }
        return refusal
    }

    /// What `429 overloaded` asks a client to wait, in seconds, before its jittered retry.
    static let retryAfterSeconds = 2

    static func text(_ text: String, contentType: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: contentType],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}

extension Request {
    /// The body, refusing more than `limit` bytes (by Content-Length before reading, or while reading).
    func collectBody(limit: Int) async throws(AttestationRefusal) -> [UInt8] {
        if let length = headers[.contentLength].flatMap(Int.init), length > limit {
            throw AttestationRefusal(.payloadTooLarge, "the body is \(length) bytes; the limit is \(limit)")
        }
        do {
            let buffer = try await body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw AttestationRefusal(.payloadTooLarge, "the body exceeds the limit of \(limit) bytes")
        } catch {
            throw AttestationRefusal(.malformedRequest, "the request body could not be read: \(error)")
        }
    }

    /// A JSON body, checked by `refuseCrossSite`.
    func decodeJSON<T: Decodable>(_ type: T.Type, limit: Int) async throws(AttestationRefusal) -> T {
        try refuseCrossSite()
        let bytes = try await collectBody(limit: limit)
        do {
            return try PostureReport.wireDecoder().decode(type, from: Data(bytes))
        } catch {
            throw AttestationRefusal(.malformedRequest, "the body is not a JSON \(type): \(error)")
        }
    }
}

extension Request {
    /// A body only as `application/json`, and nothing a browser sent for another site: a cross-site page can
    /// post a form (`text/plain` shaped as JSON) with the operator's client certificate attached, but not
    /// this content type without a CORS preflight, which is never granted.
    func refuseCrossSite() throws(AttestationRefusal) {
        let contentType = headers[.contentType]?.lowercased() ?? ""
        guard contentType.hasPrefix("application/json") else {
            throw AttestationRefusal(
                .malformedRequest, "send the body as JSON with Content-Type: application/json (got '\(contentType)')")
        }
        if let name = HTTPField.Name("Sec-Fetch-Site"), let site = headers[name], site != "same-origin", site != "none"
        {
            throw AttestationRefusal(
                .malformedRequest, "a browser sent this for another site (Sec-Fetch-Site: \(site))")
        }
        if let origin = headers[.origin], let authority = head.authority, origin != "https://" + authority {
            throw AttestationRefusal(.malformedRequest, "a browser sent this from \(origin), not from this collector")
        }
    }
}

extension AttestationRefusal {
    /// Any error as a refusal; an error that is not one is the collector's own fault.
    init(_ error: any Error) {
        if let refusal = error as? AttestationRefusal {
            self = refusal
        } else if let refused = error as? StoreRefusal {
            self = refused.refusal
        } else if let error = error as? any HTTPResponseError, (400..<500).contains(error.status.code) {
            // The router's own refusals (a missing parameter, a body too large): the client's, not ours.
            self.init(
                error.status == .notFound
                    ? .notFound : error.status == .contentTooLarge ? .payloadTooLarge : .malformedRequest,
                "the request was refused: \(error)")
        } else {
            self.init(.internalError, "the collector failed: \(error)")
        }
    }
}
