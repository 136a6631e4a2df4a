import PostureAPI
import PostureModel
import PostureStore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The fleet API's access routes: grants listed, a pending sudo request approved or denied.
extension FleetAPIHandlers {
    func listAccessGrants(_ input: Operations.ListAccessGrants.Input) async throws
        -> Operations.ListAccessGrants.Output
    {
        let records = try await operations.accessGrants(
            deviceID: input.query.device, user: input.query.user, limit: input.query.limit ?? 100, by: caller)
        let now = Date()
        return .ok(.init(body: .json(.init(grants: records.compactMap { Self.grant($0, now: now) }))))
    }

    func approveAccessGrant(_ input: Operations.ApproveAccessGrant.Input) async throws
        -> Operations.ApproveAccessGrant.Output
    {
        guard case .json(let body) = input.body else { throw Wire.unsupportedBody }
        _ = try await operations.decideSudo(input.path.id, approve: true, reason: body.reason, by: caller)
        return .ok(.init(body: .json(try await decided(input.path.id))))
    }

    func denyAccessGrant(_ input: Operations.DenyAccessGrant.Input) async throws -> Operations.DenyAccessGrant.Output {
        guard case .json(let body) = input.body else { throw Wire.unsupportedBody }
        _ = try await operations.decideSudo(input.path.id, approve: false, reason: body.reason, by: caller)
        return .ok(.init(body: .json(try await decided(input.path.id))))
    }

    func revokeAccessGrant(_ input: Operations.RevokeAccessGrant.Input) async throws
        -> Operations.RevokeAccessGrant.Output
    {
        guard case .json(let body) = input.body else { throw Wire.unsupportedBody }
        _ = try await operations.revokeAccessGrant(input.path.id, reason: body.reason, by: caller)
        return .ok(.init(body: .json(try await decided(input.path.id))))
    }

    private func decided(_ id: Int64) async throws -> Components.Schemas.AccessGrant {
        guard let record = try await operations.store.accessGrant(id: id), let grant = Self.grant(record, now: Date())
        else { throw AttestationRefusal(.internalError, "grant \(id) cannot be read back") }
        return grant
    }

    /// The stored grant as the API shows it: an active one past its deadline is `expired`.
    static func grant(_ record: AccessGrantRecord, now: Date) -> Components.Schemas.AccessGrant? {
        guard let kind = Components.Schemas.AccessGrant.KindPayload(rawValue: record.kind),
            var status = Components.Schemas.AccessGrant.StatusPayload(rawValue: record.status)
        else { return nil }
        if status == .active, let until = record.validUntil, until <= now { status = .expired }
        let detail = (try? JSONDecoder().decode([String: String].self, from: Data(record.detail.utf8))) ?? [:]
        return .init(
            id: record.id, kind: kind, deviceID: record.deviceID, user: record.user, grant: record.grant,
            status: status, requestedAt: record.requestedAt, validFrom: record.validFrom,
            validUntil: record.validUntil, detail: .init(additionalProperties: detail))
    }
}
