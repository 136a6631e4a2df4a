import Foundation
import Hummingbird
import OpenAPIHummingbird
import OpenAPIRuntime
import PostureAPI
import PostureModel

/// The API listener's generated handlers: the fleet operators' API (`FleetAPIHandlers`) and the Shared
/// Signals transmitter's endpoints (`SSFHandlers`), each behind `APIAuthentication`; the document itself at
/// `GET /openapi.json`; and 405 with `Allow` for every method the document does not list for a path.
struct OpenAPIRoutes: Sendable {
    let collector: CollectorCore

    func register(on router: Router<CollectorRequestContext>) throws {
        let document = OpenAPIDocument.template.replacingOccurrences(
            of: "\"POSTURE_VERSION\"", with: "\"\(postureVersion)\"")
        router.get("/openapi.json") { _, _ in Responses.text(document, contentType: "application/json") }
        let parsed = (try? JSONSerialization.jsonObject(with: Data(document.utf8))) as? [String: Any] ?? [:]
        registerMethodNotAllowed(on: router, paths: parsed["paths"] as? [String: [String: Any]] ?? [:])
        let allowed = APIAuthentication.allowedValues(in: parsed)
        // The answers as compact as the rest of the collector's JSON, keys sorted.
        let configuration = Configuration(jsonEncodingOptions: [.sortedKeys, .withoutEscapingSlashes])
        let operators = router.group().add(
            middleware: APIAuthentication(collector: collector, audience: .operators, allowedValues: allowed))
        try FleetAPIHandlers(operations: collector.fleet).registerHandlers(on: operators, configuration: configuration)
        let receivers = router.group().add(
            middleware: APIAuthentication(collector: collector, audience: .receivers, allowedValues: allowed))
        try SSFHandlers(collector: collector).registerHandlers(on: receivers, configuration: configuration)
    }

    /// Every method the document does not list for a path answers 405 with `Allow`, not 404.
    private func registerMethodNotAllowed(on router: Router<CollectorRequestContext>, paths: [String: [String: Any]]) {
        let methods: [HTTPRequest.Method] =
            [.get, .post, .put, .patch, .delete, .options, .trace] + [.init("QUERY")].compactMap { $0 }
        for (path, operations) in paths {
            let allowed = methods.filter { operations[$0.rawValue.lowercased()] != nil }
            let allow = allowed.map { $0.rawValue }.joined(separator: ", ")
            for method in methods where !allowed.contains(method) {
                router.on(RouterPath(path), method: method) { _, _ in
                    var response = Responses.refusal(
                        AttestationRefusal(.methodNotAllowed, "\(path) allows \(allow)"))
                    response.headers[.allow] = allow
                    return response
                }
            }
        }
    }
}
