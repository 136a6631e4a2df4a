import PostureAPI
import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The fleet API as openapi.yaml declares it (`PostureAPI.APIProtocol`, generated): each handler turns the
/// generated input into a `FleetOperations` call and its answer into the generated output. Who calls is in
/// `Caller.current`, set by `APIAuthentication`; refusals become problems there too.
struct FleetAPIHandlers: APIProtocol {
    let operations: FleetOperations

    var caller: Caller {
        get throws(AttestationRefusal) {
            guard let caller = Caller.current else {
                throw AttestationRefusal(.internalError, "a fleet API handler ran without APIAuthentication")
            }
            return caller
        }
    }

    func listDevices(_ input: Operations.ListDevices.Input) async throws -> Operations.ListDevices.Output {
        let q = input.query
        let values: [String: String?] = [
            "verdict": q.verdict?.rawValue, "failingRule": q.failingRule, "label": q.label, "os": q.os,
            "osVersion": q.osVersion, "hostname": q.hostname, "seenBefore": q.seenBefore,
            "seenAfter": q.seenAfter, "state": q.state?.rawValue, "sort": q.sort?.rawValue,
            "order": q.order?.rawValue, "limit": q.limit.map(String.init), "cursor": q.cursor,
        ]
        let query = try FleetQueryParameters.parse { values[$0] ?? nil }
        return .ok(.init(body: .json(try Wire.convert(try await operations.devices(query, by: caller)))))
    }

    func getFleetSummary(_ input: Operations.GetFleetSummary.Input) async throws -> Operations.GetFleetSummary.Output {
        .ok(.init(body: .json(try Wire.convert(try await operations.summary(by: caller)))))
    }

    func getDevice(_ input: Operations.GetDevice.Input) async throws -> Operations.GetDevice.Output {
        let limit = try FleetQueryParameters.int(
            { _ in input.query.attestations.map(String.init) }, "attestations", default: 20, range: 0...50)
        let detail = try await operations.detail(input.path.id, attestations: limit, by: caller)
        return .ok(.init(body: .json(try Wire.convert(detail))))
    }

    func listEvents(_ input: Operations.ListEvents.Input) async throws -> Operations.ListEvents.Output {
        let q = input.query
        let values: [String: String?] = [
            "device": q.device, "code": q.code, "cursor": q.cursor, "limit": q.limit.map(String.init),
        ]
        let query = try FleetQueryParameters.events { values[$0] ?? nil }
        return .ok(.init(body: .json(try Wire.convert(try await operations.events(query, by: caller)))))
    }

    func previewPolicy(_ input: Operations.PreviewPolicy.Input) async throws -> Operations.PreviewPolicy.Output {
        guard case .json(let body) = input.body else { throw Wire.unsupportedBody }
        let preview = try await operations.previewPolicy(
            text: body.policy, limit: input.query.limit ?? 100, by: caller)
        return .ok(.init(body: .json(try Wire.convert(preview))))
    }

    func quarantineDevice(_ input: Operations.QuarantineDevice.Input) async throws
        -> Operations.QuarantineDevice.Output
    {
        guard case .json(let body) = input.body else { throw Wire.unsupportedBody }
        let detail = try await operations.apply(.quarantine, to: input.path.id, reason: body.reason, by: caller)
        return .ok(.init(body: .json(try Wire.convert(detail))))
    }

    func releaseDevice(_ input: Operations.ReleaseDevice.Input) async throws -> Operations.ReleaseDevice.Output {
        guard case .json(let body) = input.body else { throw Wire.unsupportedBody }
        let detail = try await operations.apply(.release, to: input.path.id, reason: body.reason, by: caller)
        return .ok(.init(body: .json(try Wire.convert(detail))))
    }

    func acceptBoot(_ input: Operations.AcceptBoot.Input) async throws -> Operations.AcceptBoot.Output {
        guard case .json(let body) = input.body else { throw Wire.unsupportedBody }
        let detail = try await operations.acceptBoot(input.path.id, reason: body.reason, by: caller)
        return .ok(.init(body: .json(try Wire.convert(detail))))
    }

    func revokeDevice(_ input: Operations.RevokeDevice.Input) async throws -> Operations.RevokeDevice.Output {
        guard case .json(let body) = input.body else { throw Wire.unsupportedBody }
        let detail = try await operations.apply(.revoke, to: input.path.id, reason: body.reason, by: caller)
        return .ok(.init(body: .json(try Wire.convert(detail))))
    }

    func listAllStreams(_ input: Operations.ListAllStreams.Input) async throws -> Operations.ListAllStreams.Output {
        .ok(
            .init(
                body: .json(
                    try Wire.convert(
                        try await operations.streams(limit: input.query.limit, cursor: input.query.cursor, by: caller)))
            ))
    }

    func setStreamStatusAsTransmitter(_ input: Operations.SetStreamStatusAsTransmitter.Input) async throws
        -> Operations.SetStreamStatusAsTransmitter.Output
    {
        guard case .json(let body) = input.body else { throw Wire.unsupportedBody }
        let stream = try await operations.setStreamStatus(
            input.path.id, to: body.status.rawValue, reason: body.reason, by: caller)
        return .ok(.init(body: .json(try Wire.convert(stream))))
    }

    func listWaivers(_ input: Operations.ListWaivers.Input) async throws -> Operations.ListWaivers.Output {
        .ok(
            .init(
                body: .json(
                    try Wire.convert(
                        try await operations.waivers(limit: input.query.limit, cursor: input.query.cursor, by: caller)))
            ))
    }

    func createWaiver(_ input: Operations.CreateWaiver.Input) async throws -> Operations.CreateWaiver.Output {
        guard case .json(let body) = input.body else { throw Wire.unsupportedBody }
        let waiver = try await operations.createWaiver(try Wire.request(body), by: caller)
        return .created(.init(body: .json(try Wire.convert(waiver))))
    }

    func revokeWaiver(_ input: Operations.RevokeWaiver.Input) async throws -> Operations.RevokeWaiver.Output {
        guard case .json(let body) = input.body else { throw Wire.unsupportedBody }
        let waiver = try await operations.revokeWaiver(input.path.id, reason: body.reason, by: caller)
        return .ok(.init(body: .json(try Wire.convert(waiver))))
    }

    func listEnrollmentTokens(_ input: Operations.ListEnrollmentTokens.Input) async throws
        -> Operations.ListEnrollmentTokens.Output
    {
        .ok(
            .init(
                body: .json(
                    try Wire.convert(
                        try await operations.enrollmentTokens(
                            limit: input.query.limit, cursor: input.query.cursor, by: caller)))))
    }

    func createEnrollmentToken(_ input: Operations.CreateEnrollmentToken.Input) async throws
        -> Operations.CreateEnrollmentToken.Output
    {
        guard case .json(let body) = input.body else { throw Wire.unsupportedBody }
        let created = try await operations.createEnrollmentToken(try Wire.request(body), by: caller)
        return .created(.init(body: .json(try Wire.convert(created))))
    }

    func listAPITokens(_ input: Operations.ListAPITokens.Input) async throws -> Operations.ListAPITokens.Output {
        .ok(
            .init(
                body: .json(
                    try Wire.convert(
                        try await operations.apiTokens(limit: input.query.limit, cursor: input.query.cursor, by: caller)
                    ))))
    }

    func createAPIToken(_ input: Operations.CreateAPIToken.Input) async throws -> Operations.CreateAPIToken.Output {
        guard case .json(let body) = input.body else { throw Wire.unsupportedBody }
        let created = try await operations.createAPIToken(try Wire.request(body), by: caller)
        return .created(.init(body: .json(try Wire.convert(created))))
    }

    func revokeAPIToken(_ input: Operations.RevokeAPIToken.Input) async throws -> Operations.RevokeAPIToken.Output {
        guard case .json(let body) = input.body else { throw Wire.unsupportedBody }
        let token = try await operations.revokeAPIToken(input.path.id, reason: body.reason, by: caller)
        return .ok(.init(body: .json(try Wire.convert(token))))
    }

    func verifyAuditTrail(_ input: Operations.VerifyAuditTrail.Input) async throws
        -> Operations.VerifyAuditTrail.Output
    {
        let report = try await operations.verifyAudit(expectingHead: input.query.expectHead, by: caller)
        return .ok(.init(body: .json(try Wire.convert(report))))
    }
}
