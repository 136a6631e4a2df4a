import Logging
import PostureModel
import PostureStore
import PostureVerdict

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Time-bound sudo: a device's user asks (through the agent), the grant's `approval` decides whether it
/// is in force at once or waits for an operator, and the agent keeps a sudoers drop-in while it is. A
/// grant ends at its deadline, when an operator revokes it, or when the device stops meeting the grant's
/// conditions; the collector records each of those the next time the device's agent asks.
extension CollectorCore {
    /// At most this many requests wait for an operator per device: a device cannot fill the store.
    static let maxPendingSudo = 20
    /// A request nobody decided on lapses after this.
    static let sudoApprovalWindow: TimeInterval = 24 * 3600

    func requestSudo(_ request: SudoGrantRequest, deviceID: String, now: Date = Date()) async throws
        -> SudoGrantState
    {
        try await checkAccessRate(deviceID, user: request.user, now: now)
        let decision: (grant: AccessGrant, commands: [String], lifetime: Duration)
        let reason: String
        do {
            reason = try Self.sudoReason(request.reason)
            let requested = try request.duration.map(Self.duration)
            let (policy, entry) = await verdicts.accessInputs(deviceID)
            guard let entry, let verdict = entry.verdict else {
                throw AccessRefusal(.notCompliant, "the collector has no verdict for this device yet")
            }
            decision = try policy.sudoGrant(
                request.grant, user: request.user, groups: request.groups, deviceLabels: entry.labels,
                verdict: verdict, requested: requested)
            let pending = try await store.accessGrants(deviceID: deviceID, limit: 200).filter {
                $0.kind == "sudo" && $0.status == "pending"
            }
            guard pending.count < Self.maxPendingSudo else {
                throw AccessRefusal(
                    .badRequest,
                    "this device has \(pending.count) sudo requests waiting for an operator; wait for a decision")
            }
        } catch let refusal as AccessRefusal {
            throw try await refuse(
                refusal, what: "sudo",
                event: AccessEvent(
                    at: now, deviceID: deviceID, user: request.user, grant: request.grant, event: "sudo-refused",
                    actor: "device:\(deviceID)", detail: refusal.description))
        }
        let auto = decision.grant.approval == .auto
        let seconds = Int(decision.lifetime.seconds.rounded(.down))
        let until = now.addingTimeInterval(Double(seconds))
        let detail = Self.detailJSON([
            "commands": decision.commands.joined(separator: "\n"), "seconds": String(seconds), "reason": reason,
        ])
        let event = AccessEvent(
            at: now, deviceID: deviceID, user: request.user, grant: request.grant,
            event: auto ? "sudo-granted" : "sudo-requested", actor: "device:\(deviceID)", detail: detail)
        let id = try await store.recordGrant(
            AccessGrantRecord(
                deviceID: deviceID, user: request.user, grant: request.grant, kind: "sudo",
                status: auto ? "active" : "pending", requestedAt: now, validFrom: auto ? now : nil,
                validUntil: auto ? until : nil, detail: detail),
            event: event)
        logger.notice(
            auto
                ? "sudo \(id) granted to \(request.user) (grant \(request.grant)) until \(until)"
                : "sudo \(id) requested by \(request.user) (grant \(request.grant)); waiting for an operator",
            metadata: [
                "posture.event": auto ? "sudo-granted" : "sudo-requested", "posture.device": "\(deviceID)",
                "posture.user": "\(request.user)", "posture.grant": "\(request.grant)", "posture.id": "\(id)",
            ])
        guard let stored = try await store.accessGrant(id: id), let state = Self.sudoState(stored) else {
            throw AttestationRefusal(.internalError, "sudo grant \(id) was stored but cannot be read back")
        }
        return state
    }

    /// The device's sudo grants, newest first, after ending those whose deadline passed, whose grant left
    /// the policy, or whose device no longer meets the grant's conditions.
    func sudoGrants(deviceID: String, now: Date = Date()) async throws -> [SudoGrantState] {
        let (policy, entry) = await verdicts.accessInputs(deviceID)
        var states: [SudoGrantState] = []
        for record in try await store.accessGrants(deviceID: deviceID, limit: 200) where record.kind == "sudo" {
            guard var state = Self.sudoState(record) else { continue }
            if let ending = Self.ending(state, policy: policy, verdict: entry?.verdict, now: now) {
                let event = AccessEvent(
                    at: now, deviceID: deviceID, user: record.user, grant: record.grant, event: ending.event,
                    actor: "collector", detail: ending.why)
                if try await store.transitionGrant(
                    id: record.id, from: record.status, to: ending.status.rawValue, validFrom: nil, validUntil: nil,
                    event: event)
                {
                    logger.notice(
                        "sudo \(record.id) of \(record.user) (grant \(record.grant)) ended: \(ending.why)",
                        metadata: [
                            "posture.event": "\(ending.event)", "posture.device": "\(deviceID)",
                            "posture.user": "\(record.user)", "posture.grant": "\(record.grant)",
                            "posture.id": "\(record.id)",
                        ])
                }
                state.status = ending.status
            }
            states.append(state)
        }
        return states
    }

    /// Why a pending or active grant ends now, if it does.
    static func ending(_ state: SudoGrantState, policy: Policy, verdict: Verdict?, now: Date)
        -> (status: SudoGrantState.Status, event: String, why: String)?
    {
        switch state.status {
        case .pending:
            guard now.timeIntervalSince(state.requestedAt) >= sudoApprovalWindow else { return nil }
            return (.expired, "sudo-request-lapsed", "no operator decided within 24 hours")
        case .active:
            if let until = state.validUntil, until <= now { return (.expired, "sudo-expired", "its deadline passed") }
            guard let verdict else { return nil }
            do {
                _ = try policy.sudoApproval(state.grant, verdict: verdict)
                return nil
            } catch {
                return (.revoked, "sudo-revoked", error.reason)
            }
        default:
            return nil
        }
    }

    static func sudoState(_ record: AccessGrantRecord) -> SudoGrantState? {
        guard record.kind == "sudo", let status = SudoGrantState.Status(rawValue: record.status),
            let detail = try? JSONDecoder().decode([String: String].self, from: Data(record.detail.utf8))
        else { return nil }
        return SudoGrantState(
            id: record.id, grant: record.grant, user: record.user, status: status,
            commands: (detail["commands"] ?? "").split(separator: "\n").map(String.init),
            requestedAt: record.requestedAt, seconds: Int(detail["seconds"] ?? "") ?? 0, validFrom: record.validFrom,
            validUntil: record.validUntil, reason: detail["reason"] ?? "")
    }

    /// A reason is required, one line, at most 500 characters: it is what an approver and the audit read.
    static func sudoReason(_ text: String) throws(AccessRefusal) -> String {
        let reason = text.trimmingCharacters(in: .whitespaces)
        guard !reason.isEmpty else {
            throw AccessRefusal(.badRequest, "a reason is required (posturectl access request --reason WHY)")
        }
        guard reason.count <= 500, !reason.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else { throw AccessRefusal(.badRequest, "the reason must be one line of at most 500 characters") }
        return reason
    }
}

extension VerdictService {
    /// Revokes the device's active sudo grants: it is no longer compliant.
    func endSudoGrants(_ id: String, status: ComplianceStatus, now: Date) async {
        do {
            try await Self.endSudoGrants(
                id, why: "the device turned \(status.rawValue)", actor: "collector", store: store, logger: logger,
                now: now)
        } catch {
            logger.error("cannot end the sudo grants of \(id) (the agent ends them itself): \(error)")
        }
    }

    /// Revokes the device's active sudo grants, recording why and who. Also called when an operator
    /// quarantines or revokes a device, so that a quarantine released before any collector evaluated it
    /// still ends them.
    static func endSudoGrants(
        _ id: String, why: String, actor: String, store: any PostureStore, logger: Logger?, now: Date
    ) async throws {
        let active = try await store.accessGrants(deviceID: id, limit: 200).filter {
            $0.kind == "sudo" && $0.status == "active"
        }
        for grant in active {
            guard
                try await store.transitionGrant(
                    id: grant.id, from: "active", to: "revoked", validFrom: nil, validUntil: nil,
                    event: AccessEvent(
                        at: now, deviceID: id, user: grant.user, grant: grant.grant, event: "sudo-revoked",
                        actor: actor, detail: why))
            else { continue }
            logger?.notice(
                "sudo \(grant.id) of \(grant.user) (grant \(grant.grant)) ended: \(why)",
                metadata: [
                    "posture.event": "sudo-revoked", "posture.device": "\(id)", "posture.user": "\(grant.user)",
                    "posture.grant": "\(grant.grant)", "posture.id": "\(grant.id)",
                ])
        }
    }
}
