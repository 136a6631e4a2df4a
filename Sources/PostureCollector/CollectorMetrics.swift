import Hummingbird
import PostureStore
import Prometheus

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The collector's Prometheus metrics, served at `GET /metrics` on the API listener (scope
/// `metrics:read`, as Prometheus sends a bearer token): attestations and enrollments by result and refusal
/// reason, verdicts by status, Shared Signals deliveries and retries, request latency, store commit and
/// query latency.
final class CollectorMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let latencyBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(1000),
        .seconds(5),
    ]

    /// `reason` is the refusal code (`bad_signature`, `replayed`, …) or `-` for an accepted one.
    func attestation(accepted: Bool, reason: String = "-") {
        received("posture_attestations_total", "Attestations received", accepted: accepted, reason: reason)
    }

    func enrollment(accepted: Bool, reason: String = "-") {
        received("posture_enrollments_total", "Enrollment requests", accepted: accepted, reason: reason)
    }

    private func received(_ name: String, _ what: String, accepted: Bool, reason: String) {
        registry.makeCounter(
            name: name, labels: [("result", accepted ? "accepted" : "refused"), ("reason", reason)],
            help: "\(what), by result and refusal reason."
        ).increment()
    }

    /// A refusal recorded as a security event, or only counted (the same source and code within a minute).
    func securityEvent(recorded: Bool) {
        registry.makeCounter(
            name: "posture_security_events_total", labels: [("result", recorded ? "recorded" : "suppressed")],
            help: "Refusals recorded as security events, or suppressed (same source and code within a minute)."
        ).increment()
    }

    /// A connection closed because its TLS handshake did not complete within `limits.handshakeTimeout`.
    func handshakeTimedOut(listener: String) {
        registry.makeCounter(
            name: "posture_tls_handshake_timeouts_total", labels: [("listener", listener)],
            help: "Connections closed because the TLS handshake did not complete in limits.handshakeTimeout."
        ).increment()
    }

    /// `result`: delivered, or retry (the receiver failed; the SET waits with backoff).
    func signalDelivery(_ result: String) {
        registry.makeCounter(
            name: "posture_ssf_push_deliveries_total", labels: [("result", result)],
            help: "Security Event Token push deliveries (RFC 8935), by result."
        ).increment()
    }

    /// Rows deleted by retention (`HistoryRetention`), by table.
    func pruned(_ pruned: PrunedHistory) {
        for (table, count) in [
            ("attestations", pruned.attestations), ("certificates", pruned.certificates), ("nonces", pruned.nonces),
            ("security_events", pruned.securityEvents),
        ] {
            registry.makeCounter(
                name: "posture_store_pruned_rows_total", labels: [("table", table)],
                help: "Rows deleted by retention (storage.keepAttestations, storage.keepExpiredCertificates)."
            ).increment(by: Int64(count))
        }
    }

    func storeCommit(_ duration: Duration) {
        registry.makeDurationHistogram(
            name: "posture_store_commit_duration_seconds", labels: [], buckets: latencyBuckets,
            help: "Time to commit an accepted attestation to the store (fsync included)."
        ).record(duration)
    }

    /// Runs a store read for the fleet API or the dashboard, timed into
    /// `posture_store_query_duration_seconds{query}`.
    func storeQuery<T>(_ query: String, _ body: () async throws -> T) async rethrows -> T {
        let start = ContinuousClock.now
        defer {
            registry.makeDurationHistogram(
                name: "posture_store_query_duration_seconds", labels: [("query", query)], buckets: latencyBuckets,
                help: "Time to answer a fleet query from the store (device list, summary, device, events)."
            ).record(ContinuousClock.now - start)
        }
        return try await body()
    }

    private let longPollBuckets: [Duration] = [
        .milliseconds(100), .seconds(1), .seconds(5), .seconds(10), .seconds(20), .seconds(30), .seconds(60),
    ]

    /// `route` is the matched pattern (`/v1/devices/{id}/verdict`, bounded), or `unmatched`. Long-polls
    /// (`?wait=`) wait by design: they go in their own series, so they do not swamp the latency quantiles.
    func request(listener: String, route: String, method: String, status: Int, longPoll: Bool, _ duration: Duration) {
        let labels = [
            ("listener", listener), ("route", route), ("method", method), ("status", "\(status / 100)xx"),
        ]
        if longPoll {
            registry.makeDurationHistogram(
                name: "posture_http_longpoll_duration_seconds", labels: labels, buckets: longPollBuckets,
                help: "Verdict long-polls (?wait=), by listener, route, method and status class: how long each waited."
            ).record(duration)
        } else {
            registry.makeDurationHistogram(
                name: "posture_http_request_duration_seconds", labels: labels, buckets: latencyBuckets,
                help: "HTTP request latency, by listener, route, method and status class (long-polls excluded)."
            ).record(duration)
        }
    }

    /// What runs: `posture_build_info{version} 1`.
    func buildInfo(version: String) {
        registry.makeGauge(
            name: "posture_build_info", labels: [("version", version)], help: "The collector's version (always 1)."
        ).set(Double(1))
    }

    /// When the CA and the server certificate expire, and how many signing keys each algorithm publishes.
    func credentials(caNotAfter: Date, serverNotAfter: Date, publishedKeys: [String: Int]) {
        for (name, date) in [("ca", caNotAfter), ("server", serverNotAfter)] {
            registry.makeGauge(
                name: "posture_certificate_expiry_timestamp_seconds", labels: [("certificate", name)],
                help: "When the collector's CA and TLS server certificate expire (Unix time)."
            ).set(date.timeIntervalSince1970)
        }
        for (alg, count) in publishedKeys {
            registry.makeGauge(
                name: "posture_signing_keys_published", labels: [("alg", alg)],
                help: "Token-signing keys in the JWKS, by algorithm (2 during a rotation's overlap)."
            ).set(Double(count))
        }
    }

    /// Security Event Tokens waiting for their receivers, and the age of the oldest.
    func outbox(pending: Int, oldest: Date?, now: Date) {
        registry.makeGauge(
            name: "posture_ssf_outbox_pending", labels: [], help: "SETs not yet delivered to their receivers."
        ).set(Double(pending))
        registry.makeGauge(
            name: "posture_ssf_outbox_oldest_pending_age_seconds", labels: [],
            help: "How long the oldest undelivered SET has waited (0 when none)."
        ).set(oldest.map { max(0, now.timeIntervalSince($0)) } ?? 0)
    }

    func verdicts(_ counts: [String: Int]) {
        for status in ["compliant", "noncompliant", "unknown"] {
            registry.makeGauge(
                name: "posture_devices", labels: [("verdict", status)], help: "Devices by current verdict."
            ).set(Double(counts[status] ?? 0))
        }
    }

    func render() -> String { registry.emitToString() }
}

/// Times every request of one listener into `posture_http_request_duration_seconds`.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let listener: String
    let metrics: CollectorMetrics
    /// Methods labelled by name; anything else a client invents is `other` (bounded cardinality).
    static var methods: Set<HTTPRequest.Method> { [.get, .head, .post, .put, .patch, .delete, .options] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let start = ContinuousClock.now
        let longPoll = request.uri.queryParameters["wait"] != nil
        let method = Self.methods.contains(request.method) ? request.method.rawValue : "other"
        func record(_ status: Int) {
            metrics.request(
                listener: listener, route: context.endpointPath ?? "unmatched", method: method, status: status,
                longPoll: longPoll, ContinuousClock.now - start)
        }
        do {
            let response = try await next(request, context)
            record(response.status.code)
            return response
        } catch let error as HTTPResponseError {
            record(error.status.code)
            throw error
        } catch {
            record(500)
            throw error
        }
    }
}
