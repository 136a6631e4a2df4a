import Foundation
import Hummingbird
import NIOConcurrencyHelpers
import PostureModel
import PostureStore
import PostureVerdict

/// The API listener (TLS, bearer tokens with scopes): signed verdicts for policy engines, the JWKS, and
/// the Shared Signals transmitter (`SSFRoutes`).
struct APIRoutes: Sendable {
    let collector: CollectorCore

    var verdicts: VerdictService { collector.verdicts }

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
        router.get("/v1/devices/{id}/verdict") { request, context in
            do {
                _ = try await collector.authorize(request, channel: context.channel, scope: "verdict:read")
                let lookup = try context.parameters.require("id")
                let id = try await verdicts.resolve(.init(lookup.removingPercentEncoding ?? lookup))
                let response = try await Self.verdictResponse(id, request: request, collector: collector)
                // Evidence for the maturity stage, written off the answer's path.
                Task { await collector.verdictPulls.record(id) }
                return response
            } catch {
                return Responses.refusal(error)
            }
        }
        SSFRoutes(collector: collector).register(on: router)
    }

    /// JSON and JWT, with an ETag; with If-None-Match, `?wait=30s` long-polls until the verdict differs
    /// (304 when it did not change in time).
    static func verdictResponse(_ id: String, request: Request, collector: CollectorCore) async throws -> Response {
        let known = request.headers[.ifNoneMatch].map { tag in
            String(tag.hasPrefix("W/") ? tag.dropFirst(2) : Substring(tag)).filter { $0 != "\"" && $0 != " " }
        }
        if let refusal = await collector.verdicts.startingRefusal() { throw refusal }
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
