import HTTPTypes
import OpenAPIRuntime
import PostureClient

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The generated client's transport (`PostureAPI.Client`): `CollectorClient`'s HTTPS, with its fail-over
/// between collectors. A refusal or an unreachable collector is thrown as the `OperatorError` it means, so
/// what reaches the generated code is always a success the document declares.
struct CollectorTransport: ClientTransport {
    let api: FleetAPI

    func send(_ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String) async throws -> (
        HTTPResponse, HTTPBody?
    ) {
        var bytes: [UInt8]?
        if let body { bytes = Array(try await Data(collecting: body, upTo: 1 << 20)) }
        let answer = try await api.call {
            await $0.request(
                request.method.rawValue, request.path ?? "/", body: bytes,
                contentType: request.headerFields[.contentType], headers: api.authorization)
        }
        return (
            HTTPResponse(status: .init(code: answer.status), headerFields: [.contentType: "application/json"]),
            HTTPBody(answer.body)
        )
    }
}
