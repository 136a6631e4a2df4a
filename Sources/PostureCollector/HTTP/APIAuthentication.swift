import Hummingbird
import OpenAPIRuntime
import PostureModel

/// In front of the handlers generated from openapi.yaml: refuses what a browser sent for another site, bounds
/// the body, authenticates the caller into a task-local (`Caller.current` for an operator, whose scope the
/// operation checks; `SignalReceiver.current` for a Shared Signals receiver, with `ssf:manage` or an OAuth
/// access token), and answers every refusal as an RFC 9457 problem.
struct APIAuthentication: RouterMiddleware {
    typealias Context = CollectorRequestContext

    enum Audience: Sendable {
        /// The fleet API: bodies are a reason, a waiver, a token's settings (16 KiB).
        case operators
        /// The SSF transmitter's endpoints: a stream's configuration (64 KiB), a poll's acknowledgements (1 MiB).
        case receivers
    }

    let collector: CollectorCore
    let audience: Audience
    /// The values the document allows for each enumerated parameter or member, by name: what a refusal lists.
    let allowedValues: [String: [String]]

    func bodyLimit(_ request: Request) -> Int {
        switch audience {
        // A candidate policy's text (at most FleetOperations.maxPolicyText) escaped in JSON.
        case .operators: request.uri.path == "/v1/policy/preview" ? 2 * FleetOperations.maxPolicyText : 16 << 10
        case .receivers: request.uri.path.hasPrefix("/ssf/poll/") ? 1 << 20 : 64 << 10
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            var request = request
            if request.method != .get, request.method != .head, request.method != .delete {
                try request.refuseCrossSite()
                let bytes = try await request.collectBody(limit: bodyLimit(request))
                request.body = RequestBody(buffer: ByteBuffer(bytes: bytes))
            }
            switch audience {
            case .operators:
                guard let hash = await collector.credentialHash(request, channel: context.channel) else {
                    throw AttestationRefusal(
                        .unauthorized,
                        "send Authorization: Bearer TOKEN (`posture-collector apitoken create --scope fleet:read`) or present an API client certificate (`posture-collector apitoken certificate --scope fleet:read --csr FILE`)"
                    )
                }
                let token = try await collector.authenticate(hash: hash, suggesting: FleetOperations.read)
                return try await Caller.$current.withValue(Caller(token: token)) {
                    try await next(request, context)
                }
            case .receivers:
                let receiver = try await collector.authorizeReceiver(request, channel: context.channel)
                return try await SignalReceiver.$current.withValue(receiver) { try await next(request, context) }
            }
        } catch {
            return Responses.refusal(refusal(error))
        }
    }

    /// A generated handler's error: before its input was decoded, the request did not match the document
    /// (400, naming the member and, when it is enumerated, its allowed values); after, the operation's own
    /// refusal.
    func refusal(_ error: any Error) -> AttestationRefusal {
        guard let error = error as? ServerError else { return AttestationRefusal(error) }
        guard error.operationInput == nil, !(error.underlyingError is AttestationRefusal) else {
            return AttestationRefusal(error.underlyingError)
        }
        var names: [String] = []
        var detail = error.causeDescription
        if let decoding = error.underlyingError as? DecodingError {
            let context: DecodingError.Context? =
                switch decoding {
                case .dataCorrupted(let context), .keyNotFound(_, let context), .typeMismatch(_, let context),
                    .valueNotFound(_, let context):
                    context
                @unknown default: nil
                }
            if let context {
                names = context.codingPath.filter { $0.intValue == nil }.map(\.stringValue)
                detail = context.debugDescription
            }
            if case .keyNotFound(let key, _) = decoding { names.append(key.stringValue) }
        }
        // A query parameter's error has no coding path; its generated type is named after it (`SortPayload`).
        if names.isEmpty, let type = detail.split(separator: " ").first(where: { $0.hasSuffix("Payload") }) {
            let stem = String(type.prefix { $0.isLetter }.dropLast("Payload".count).prefix { $0 != "." })
            names.append(stem.prefix(1).lowercased() + stem.dropFirst())
        }
        let name = names.last { allowedValues[$0] != nil } ?? names.last
        var message = "the request does not match \(error.operationID) in GET /openapi.json"
        if let name { message += ": \(name)" }
        message += ": \(detail)"
        if let name, let allowed = allowedValues[name] { message += "; use \(allowed.joined(separator: ", "))" }
        return AttestationRefusal(.malformedRequest, message)
    }

    /// Every enumerated query parameter and schema member of the document, by name.
    static func allowedValues(in document: [String: Any]) -> [String: [String]] {
        var found: [String: [String]] = [:]
        func enumeration(_ schema: Any?) -> [String]? {
            guard let schema = schema as? [String: Any] else { return nil }
            if let values = schema["enum"] as? [Any] {
                return values.compactMap { $0 as? String }.filter { !$0.isEmpty }
            }
            return enumeration(schema["items"])
        }
        func walk(_ node: Any) {
            if let object = node as? [String: Any] {
                if let name = object["name"] as? String, let values = enumeration(object["schema"]) {
                    found[name] = values
                }
                if let properties = object["properties"] as? [String: Any] {
                    for (name, schema) in properties { if let values = enumeration(schema) { found[name] = values } }
                }
                object.values.forEach(walk)
            } else if let array = node as? [Any] {
                array.forEach(walk)
            }
        }
        walk(document)
        return found
    }
}
