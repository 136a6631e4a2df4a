import Hummingbird
import PostureStore
import Prometheus

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

    func request(listener: String, status: Int, _ duration: Duration) {
        registry.makeDurationHistogram(
            name: "posture_http_request_duration_seconds",
            labels: [("listener", listener), ("status", "\(status / 100)xx")], buckets: latencyBuckets,
            help: "HTTP request latency, by listener and status class."
        ).record(duration)
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

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            metrics.request(listener: listener, status: response.status.code, ContinuousClock.now - start)
            return response
        } catch let error as HTTPResponseError {
            metrics.request(listener: listener, status: error.status.code, ContinuousClock.now - start)
            throw error
        } catch {
            metrics.request(listener: listener, status: 500, ContinuousClock.now - start)
            throw error
        }
    }
}
