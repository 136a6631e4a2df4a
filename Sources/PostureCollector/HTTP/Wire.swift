import PostureModel

/// Between the operations' types and the generated ones (`PostureAPI`, `PostureSSFAPI`), through the JSON
/// both speak. An answer must decode as the document's schema, or the request fails here rather than reach a
/// client as something the document does not promise; a request body the operation cannot read is the
/// client's mistake.
enum Wire {
    /// An answer into the document's type: a mismatch is the collector's fault (500).
    static func convert<Target: Decodable>(_ value: some Encodable, to target: Target.Type = Target.self)
        throws(AttestationRefusal) -> Target
    {
        try reencode(
            value,
            else: { .init(.internalError, "\(type(of: value)) does not match openapi.yaml's \(Target.self): \($0)") })
    }

    /// A request body, as the document's type decoded it, into the operation's type: one the operation
    /// cannot read is the client's (400).
    static func request<Target: Decodable>(_ value: some Encodable, to target: Target.Type = Target.self)
        throws(AttestationRefusal) -> Target
    {
        try reencode(value, else: { .init(.malformedRequest, "the body is not a \(Target.self): \($0)") })
    }

    private static func reencode<Target: Decodable>(
        _ value: some Encodable, else refusal: (any Error) -> AttestationRefusal
    ) throws(AttestationRefusal) -> Target {
        do {
            return try PostureReport.reencode(value)
        } catch {
            throw refusal(error)
        }
    }

    static let unsupportedBody = AttestationRefusal(
        .malformedRequest, "send the body as JSON with Content-Type: application/json")
}
