import Hummingbird
import PostureModel
import PostureStore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The fleet operators' API on the API listener: queries (`fleet:read`), actions on devices and waivers
/// (`fleet:write`), enrollment and API tokens (`admin`). Every write is recorded in the audit trail with
/// the credential's name as the actor. Documented in `OpenAPIDocument` (`GET /openapi.json`).
struct FleetRoutes: Sendable {
    let collector: CollectorCore
    var store: any PostureStore { collector.store }
    var metrics: CollectorMetrics { collector.metrics }

    /// One audit verification at a time: it reads the whole trail, and a read token may ask for it.
    let auditChecks = AuditChecks()

    static let read = "fleet:read"
    static let write = "fleet:write"
    static let admin = "admin"

    func register(on router: Router<CollectorRequestContext>) {
        router.get("/openapi.json") { _, _ in
            Responses.text(OpenAPIDocument.json, contentType: "application/json")
        }
        registerMethodNotAllowed(on: router)
        handle(router, .get, "/v1/devices", scope: Self.read) { request, _, _ in
            let query = try FleetQueryParameters.parse(request.uri.queryParameters)
            return Responses.json(try await metrics.storeQuery("devices") { try await store.fleetDevices(query) })
        }
        handle(router, .get, "/v1/fleet/summary", scope: Self.read) { _, _, _ in
            Responses.json(try await metrics.storeQuery("summary") { try await store.fleetSummary(now: Date()) })
        }
        handle(router, .get, "/v1/devices/{id}", scope: Self.read) { request, context, _ in
            let id = try await deviceID(context)
            let attestations = try FleetQueryParameters.int(
                request.uri.queryParameters, "attestations", default: 20, range: 0...50)
            return Responses.json(
                try await metrics.storeQuery("device") { try await detail(id, attestations: attestations) })
        }
        handle(router, .get, "/v1/events", scope: Self.read) { request, _, _ in
            let query = try FleetQueryParameters.events(request.uri.queryParameters)
            let events = try await metrics.storeQuery("events") { try await store.securityEvents(query) }
            let next = events.count == query.limit ? events.last?.id : nil
            return Responses.json(EventPage(events: events, nextBefore: next))
        }
        for action in DeviceAction.allCases {
            handle(router, .post, "/v1/devices/{id}/\(action.rawValue)", scope: Self.write) { request, context, token in
                let id = try await deviceID(context)
                let body = try await request.decodeJSON(ReasonBody.self, limit: 16 << 10)
                try await apply(action, to: id, reason: try body.validReason(), actor: token.actor)
                return Responses.json(try await detail(id, attestations: 0))
            }
        }
        // The transmitter's side of Shared Signals: every receiver's stream, and the operator's pause.
        handle(router, .get, "/v1/ssf/streams", scope: Self.read) { _, _, _ in
            Responses.json(await collector.transmitter.allStreams().map(OperatorStreamView.init))
        }
        handle(router, .post, "/v1/ssf/streams/{id}/status", scope: Self.write) { request, context, token in
            let id = try context.parameters.require("id")
            guard let stream = await collector.transmitter.stream(id) else {
                throw AttestationRefusal(.notFound, "no stream \(id); list them with GET /v1/ssf/streams")
            }
            let body = try await request.decodeJSON(OperatorStreamStatus.self, limit: 16 << 10)
            guard let status = body.status, StreamStatus.values.contains(status) else {
                throw AttestationRefusal(
                    .malformedRequest, "status must be one of \(StreamStatus.values.joined(separator: ", "))")
            }
            let reason = try ReasonBody(reason: body.reason).validReason()
            let updated = try await collector.transmitter.operatorSetStatus(stream, to: status, reason: reason)
            try await store.recordOperatorAction(
                OperatorAction(
                    at: Date(), actor: token.actor, action: "ssf-stream-\(status)", deviceID: nil, target: id,
                    reason: reason))
            return Responses.json(OperatorStreamView(updated))
        }
        handle(router, .get, "/v1/waivers", scope: Self.read) { _, _, _ in
            Responses.json(try await store.waivers())
        }
        handle(router, .post, "/v1/waivers", scope: Self.write) { request, _, token in
            let body = try await request.decodeJSON(WaiverRequest.self, limit: 16 << 10)
            let waiver = try body.waiver(by: token.actor, now: Date())
            if let device = waiver.deviceID, try await store.device(device) == nil {
                throw AttestationRefusal(.notFound, "no device \(device); list them with GET /v1/devices")
            }
            try await store.insertWaiver(waiver)
            await collector.verdicts.tick()
            return Responses.json(waiver, status: .created)
        }
        handle(router, .post, "/v1/waivers/{id}/revoke", scope: Self.write) { request, context, token in
            let id = try context.parameters.require("id")
            let body = try await request.decodeJSON(ReasonBody.self, limit: 16 << 10)
            guard try await store.revokeWaiver(id: id, actor: token.actor, reason: try body.validReason(), at: Date())
            else { throw AttestationRefusal(.notFound, "no active waiver \(id); see GET /v1/waivers") }
            await collector.verdicts.tick()
            return Responses.json(try await store.waivers().first { $0.id == id })
        }
        handle(router, .get, "/v1/enrollment-tokens", scope: Self.admin) { _, _, _ in
            Responses.json(try await store.tokens().map(EnrollmentTokenView.init))
        }
        handle(router, .post, "/v1/enrollment-tokens", scope: Self.admin) { request, _, token in
            let body = try await request.decodeJSON(EnrollmentTokenRequest.self, limit: 16 << 10)
            let now = Date()
            let created = EnrollmentTokens.create(
                reusable: body.reusable ?? false, allowReenroll: body.allowReenroll ?? false,
                ttl: try body.lifetime(), labels: body.labels ?? [:], now: now)
            try await store.insertToken(
                created.record,
                recording: OperatorAction(
                    at: now, actor: token.actor, action: "enrollment-token-create", deviceID: nil,
                    target: created.record.id,
                    reason: try body.reason.map { try ReasonBody(reason: $0).validReason() } ?? "created over the API"))
            return Responses.json(
                CreatedSecret(id: created.record.id, token: created.token, expiresAt: created.record.expiresAt),
                status: .created)
        }
        handle(router, .get, "/v1/api-tokens", scope: Self.admin) { _, _, _ in
            Responses.json(try await store.apiTokens().map(APITokenView.init))
        }
        handle(router, .post, "/v1/api-tokens", scope: Self.admin) { request, _, token in
            let body = try await request.decodeJSON(APITokenRequest.self, limit: 16 << 10)
            let now = Date()
            let (secret, record) = APITokens.create(
                name: try body.validName(), scopes: try body.validScopes(), ttl: try body.lifetime(), now: now)
            try await store.insertAPIToken(
                record,
                recording: OperatorAction(
                    at: now, actor: token.actor, action: "apitoken-create", deviceID: nil, target: record.id,
                    reason: "\(record.name): \(record.scopes.joined(separator: " "))"))
            return Responses.json(
                CreatedSecret(id: record.id, token: secret, expiresAt: record.expiresAt), status: .created)
        }
        handle(router, .post, "/v1/api-tokens/{id}/revoke", scope: Self.admin) { request, context, token in
            let id = try context.parameters.require("id")
            let body = try await request.decodeJSON(ReasonBody.self, limit: 16 << 10)
            let reason = try body.validReason()
            let action = OperatorAction(
                at: Date(), actor: token.actor, action: "apitoken-revoke", deviceID: nil, target: id, reason: reason)
            guard try await store.revokeAPIToken(id: id, at: action.at, recording: action) else {
                throw AttestationRefusal(.notFound, "no active API token \(id); see GET /v1/api-tokens")
            }
            collector.apiTokens.withLockedValue { $0 = [:] }
            return Responses.json(try await store.apiTokens().first { $0.id == id }.map(APITokenView.init))
        }
        handle(router, .get, "/v1/audit/verify", scope: Self.read) { request, _, _ in
            let result = try await auditChecks.verify(store)
            var problems = result.problems
            if let expected = request.uri.queryParameters["expect_head"].map(String.init), expected != result.head {
                problems.append(
                    "head is \(result.head), not the expected \(expected) (entries were added or removed since)")
            }
            return Responses.json(
                AuditReport(intact: problems.isEmpty, entries: result.entries, head: result.head, problems: problems))
        }
    }

    /// Every method the document does not list for a path answers 405 with `Allow`, not 404.
    private func registerMethodNotAllowed(on router: Router<CollectorRequestContext>) {
        struct Anything: Decodable { init(from decoder: any Decoder) {} }
        struct Document: Decodable { var paths: [String: [String: Anything]] }
        guard let paths = try? JSONDecoder().decode(Document.self, from: Data(OpenAPIDocument.json.utf8)).paths
        else { return }
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

    typealias Handler = @Sendable (Request, CollectorRequestContext, APITokenRecord) async throws -> Response

    /// Authorizes, runs, and turns any error into its refusal (an RFC 9457 problem).
    private func handle(
        _ router: Router<CollectorRequestContext>, _ method: HTTPRequest.Method, _ path: RouterPath, scope: String,
        _ handler: @escaping Handler
    ) {
        router.on(path, method: method) { request, context in
            do {
                let token = try await collector.authorize(request, channel: context.channel, scope: scope)
                return try await handler(request, context, token)
            } catch {
                return Responses.refusal(error)
            }
        }
    }

    /// The `{id}` path parameter, read by the one resolver every route shares (`VerdictService.resolve`):
    /// a device ID (any state, so a revoked device can still be shown), or `hostname:NAME`,
    /// `machine-id:HEX`, `sha256:HEX` naming exactly one active device (409 naming them when several do).
    func deviceID(_ context: CollectorRequestContext) async throws -> String {
        let raw = try context.parameters.require("id")
        let lookup = raw.removingPercentEncoding ?? raw
        if try await store.device(lookup) != nil { return lookup }
        return try await collector.verdicts.resolve(.init(lookup))
    }

    enum DeviceAction: String, CaseIterable, Sendable {
        case quarantine, release, revoke
    }

    func apply(_ action: DeviceAction, to id: String, reason: String, actor: String) async throws {
        let now = Date()
        if action == .quarantine, let device = try await store.device(id), device.status != .active {
            throw AttestationRefusal(
                .conflict,
                "device \(id) is \(device.status.rawValue): act on the device its machine is enrolled as now (posturectl devices show machine-id:\(device.machineID))"
            )
        }
        let applied: Bool
        switch action {
        case .quarantine, .release:
            applied = try await store.setQuarantine(
                deviceID: id, quarantine: action == .quarantine, actor: actor, reason: reason, at: now)
        case .revoke:
            applied = try await store.revoke(deviceID: id, actor: actor, reason: reason, at: now)
        }
        guard applied else {
            let state =
                switch action {
                case .quarantine: "is already quarantined"
                case .release: "is not quarantined"
                case .revoke: "is already revoked or replaced"
                }
            throw AttestationRefusal(.conflict, "device \(id) \(state); see GET /v1/devices/\(id)")
        }
        // Applies the action to the verdict now, not at the next tick, so the response shows it.
        await collector.verdicts.tick()
    }

    /// One device: latest facts, verdict, and its history.
    func detail(_ id: String, attestations limit: Int) async throws -> DeviceDetail {
        guard let view = try await store.deviceView(id), let row = try await store.fleetDevice(id)
        else { throw AttestationRefusal(.notFound, "no device \(id)") }
        let payload = view.latestPayload.flatMap {
            try? PostureReport.wireDecoder().decode(AttestationPayload.self, from: Data($0.utf8))
        }
        let changes = try await store.verdictChanges(deviceID: id, limit: 100).map {
            DeviceDetail.Change(at: $0.at, previousStatus: $0.previousStatus, status: $0.status, cause: $0.cause)
        }
        let events = try await store.securityEvents(SecurityEventQuery(deviceID: id, limit: 200))
        return DeviceDetail(
            device: row, verdict: await collector.verdicts.verdict(id), report: payload?.report,
            reportIssuedAt: payload?.issuedAt, verdictChanges: changes,
            attestations: limit == 0 ? [] : try await store.attestations(deviceID: id, limit: limit),
            enforcement: events.filter { $0.code.hasPrefix("enforcement.") },
            refusals: events.filter { !$0.code.hasPrefix("enforcement.") },
            certificates: try await store.certificates(deviceID: id).map {
                DeviceDetail.Certificate(serial: $0.serial, notBefore: $0.notBefore, notAfter: $0.notAfter)
            })
    }
}

extension APITokenRecord {
    /// Who an API write is recorded as.
    var actor: String { "apitoken:\(name)" }

    /// `admin` is every scope.
    func allows(_ scope: String) -> Bool { scopes.contains(scope) || scopes.contains("admin") }
}

/// Runs one audit verification at a time; callers that arrive meanwhile share its result.
actor AuditChecks {
    private var running: Task<AuditVerification, any Error>?

    func verify(_ store: any PostureStore) async throws -> AuditVerification {
        if let running { return try await running.value }
        let task = Task { try await store.verifyAuditTrail() }
        running = task
        let result = await task.result
        running = nil
        return try result.get()
    }
}
