import PostureModel
import PostureStore
import PostureVerdict

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Just-in-time access as an operator sees it: the grants of the fleet or a device, and the decision on
/// a sudo request that waits for one (`approval: operator`).
extension FleetOperations {
    public func accessGrants(deviceID: String?, user: String? = nil, limit: Int, by caller: Caller) async throws
        -> [AccessGrantRecord]
    {
        try caller.require(Self.read)
        guard (1...500).contains(limit) else {
            throw AttestationRefusal(.malformedRequest, "limit=\(limit): use a number from 1 to 500")
        }
        var resolved: String?
        if let deviceID { resolved = try await resolve(deviceID) }
        let deviceID = resolved
        return try await metrics.storeQuery("access_grants") {
            let grants = try await store.accessGrants(deviceID: deviceID, user: user, limit: limit)
            // A live SSH certificate of a device that is not compliant now is in the KRL: shown revoked.
            guard grants.contains(where: { $0.kind == "ssh" && $0.status == "active" }) else { return grants }
            let inKRL = Set(try await store.revokedSSHSerials(now: Date()))
            return grants.map { grant in
                var grant = grant
                if grant.kind == "ssh" && inKRL.contains(grant.id) { grant.status = "revoked" }
                return grant
            }
        }
    }

    /// Ends an active grant now: an SSH certificate joins the KRL, a sudo drop-in is removed at the device's
    /// next look (within `access.grantRefresh`). Recorded with the caller and the reason.
    public func revokeAccessGrant(_ id: Int64, reason: String?, by caller: Caller) async throws -> AccessGrantRecord {
        try caller.require(Self.write)
        let reason = try Self.validReason(reason)
        guard try await store.revokeGrant(id: id, actor: caller.actor, reason: reason, at: Date()),
            let record = try await store.accessGrant(id: id)
        else {
            throw AttestationRefusal(
                .notFound, "no active grant \(id) (unknown, pending, expired or ended); see posturectl access grants")
        }
        running?.logger.notice(
            "grant \(id) (\(record.kind)) of \(record.user) on \(record.deviceID) revoked by \(caller.actor): \(reason)",
            metadata: [
                "posture.event": "\(record.kind == "sudo" ? "sudo-revoked" : "ssh-certificate-revoked")",
                "posture.device": "\(record.deviceID)",
                "posture.user": "\(record.user)", "posture.grant": "\(record.grant)", "posture.id": "\(id)",
            ])
        return record
    }

    /// Approves (the device must still meet the grant's conditions; the time starts now) or denies a
    /// pending sudo request. Recorded in the audit trail with the caller and the reason.
    public func decideSudo(_ id: Int64, approve: Bool, reason: String?, by caller: Caller) async throws
        -> SudoGrantState
    {
        try caller.require(Self.write)
        let reason = try Self.validReason(reason)
        guard let record = try await store.accessGrant(id: id), record.kind == "sudo",
            let state = CollectorCore.sudoState(record)
        else { throw AttestationRefusal(.notFound, "no sudo request \(id); list them with posturectl access grants") }
        guard state.status == .pending else {
            throw AttestationRefusal(
                .conflict, "sudo request \(id) is \(state.status.rawValue), not waiting for a decision")
        }
        let now = Date()
        var until: Date?
        if approve {
            guard let running else {
                throw AttestationRefusal(
                    .conflict, "a sudo request is approved through a running collector: use posturectl or the API")
            }
            let (policy, entry) = await running.verdicts.accessInputs(record.deviceID)
            guard let verdict = entry?.verdict else {
                throw AttestationRefusal(.conflict, "the collector has no verdict for device \(record.deviceID)")
            }
            guard now.timeIntervalSince(state.requestedAt) < CollectorCore.sudoApprovalWindow else {
                throw AttestationRefusal(
                    .conflict, "sudo request \(id) is older than 24 hours: it lapsed; the user asks again")
            }
            let grant: AccessGrant
            do {
                grant = try policy.sudoApproval(record.grant, verdict: verdict)
            } catch {
                throw AttestationRefusal(.conflict, "cannot approve sudo request \(id): \(error)")
            }
            // What is approved is what the policy gives now: a grant narrowed since the request is asked again.
            guard grant.sudoCommands == state.commands else {
                throw AttestationRefusal(
                    .conflict,
                    "grant \(record.grant)'s commands changed since sudo request \(id) was made; the user asks again")
            }
            until = now.addingTimeInterval(min(Double(state.seconds), grant.maxDuration.seconds))
        }
        let event = approve ? "sudo-approved" : "sudo-denied"
        guard
            try await store.transitionGrant(
                id: id, from: "pending", to: approve ? "active" : "denied", validFrom: approve ? now : nil,
                validUntil: until,
                event: AccessEvent(
                    at: now, deviceID: record.deviceID, user: record.user, grant: record.grant, event: event,
                    actor: caller.actor, detail: reason)),
            let decided = try await store.accessGrant(id: id).flatMap(CollectorCore.sudoState)
        else { throw AttestationRefusal(.conflict, "sudo request \(id) was decided by someone else meanwhile") }
        running?.logger.notice(
            "sudo \(id) of \(record.user) on \(record.deviceID) (grant \(record.grant)) \(approve ? "approved" : "denied") by \(caller.actor): \(reason)",
            metadata: [
                "posture.event": "\(event)", "posture.device": "\(record.deviceID)", "posture.user": "\(record.user)",
                "posture.grant": "\(record.grant)", "posture.id": "\(id)",
            ])
        return decided
    }
}
