import Logging
import PostureClient
import PostureModel
import PostureSystem

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Time-bound sudo on this device: a local user asks (`posturectl access request`), the collector decides,
/// and the agent keeps one sudoers drop-in per grant in force, removing it at the deadline (kept here, so
/// also offline), when the collector ends the grant (revoked, the device non-compliant) and when this
/// agent learns a non-compliant verdict. It asks the collector only while it holds a drop-in or a request
/// waits for an operator: an idle device costs the collector nothing.
extension Agent {
    var sudoDropIns: SudoersDropIns? {
        options.access.sudoersDirectory.map { SudoersDropIns(directory: $0, visudo: options.access.visudo) }
    }

    /// One request from a local user's `posturectl access request|status`.
    func answerSudo(peer: AccessSocket.Peer, request: LocalSudoRequest) async throws(AccessRequestError)
        -> LocalAccessAnswer
    {
        guard let user = UserDatabase.name(uid: peer.uid) else {
            throw AccessRequestError("uid \(peer.uid) has no user name in the user database")
        }
        guard sudoDropIns != nil else {
            throw AccessRequestError(
                "this device does not grant sudo: access.sudoersDirectory is not set in /etc/posture/agent.yaml")
        }
        switch request.action {
        case .sudoStatus:
            guard let states = await reconcileSudo() else {
                throw AccessRequestError("the collector cannot be reached; try again")
            }
            return LocalAccessAnswer(sudo: states.filter { $0.user == user })
        case .sudoRequest:
            let asked = SudoGrantRequest(
                grant: request.grant ?? "", user: user, groups: Enforcer.groups(of: user) ?? [],
                duration: request.duration, reason: request.reason ?? "")
            switch await client.postJSON("/v1/access/sudo", asked, answer: SudoGrantState.self) {
            case .accepted(let state):
                sudoFollow = sudoFollow || state.status == .pending
                if state.status == .active { await reconcileSudo() }
                return LocalAccessAnswer(sudo: [state])
            case .refused(let body, _):
                logger.warning(
                    "sudo refused to \(user) (grant \(asked.grant)): \(body.message)",
                    metadata: ["posture.code": "\(body.error.rawValue)", "posture.user": "\(user)"])
                throw AccessRequestError("the collector refused: \(body.message)")
            case .unavailable(let reason), .busy(let reason, _):
                throw AccessRequestError("the collector cannot be reached (\(reason)); try again")
            }
        }
    }

    /// Runs until the agent stops: removes drop-ins at their deadline, and follows the collector while
    /// one is installed or a request waits.
    func keepSudoGrants() async {
        guard let dropIns = sudoDropIns else { return }
        var first = true
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            removeExpiredSudo(dropIns)
            if first || sudoFollow || !dropIns.installed().isEmpty { await reconcileSudo() }
            first = false
            // Wake at the next deadline if it comes before the next refresh.
            let now = Int64(Date().timeIntervalSince1970)
            let next = dropIns.installed().map { max(0, $0.deadline - now) }.min()
            let wait = min(
                options.access.grantRefresh, next.map { Duration.seconds($0) + .milliseconds(50) } ?? .seconds(3600))
            try? await Task.sleep(for: wait)
        }
    }

    /// Makes the drop-ins equal to the grants the collector has in force for this device; the states, or
    /// nil when the collector cannot be reached (drop-ins then stay until their deadline).
    @discardableResult
    func reconcileSudo() async -> [SudoGrantState]? {
        guard let dropIns = sudoDropIns else { return nil }
        removeExpiredSudo(dropIns)
        // A removal while this reconcile waits (for the collector, for visudo) wins over its list.
        let generation = sudoGeneration
        let states: [SudoGrantState]
        switch await client.getJSON("/v1/access/sudo", answer: [SudoGrantState].self) {
        case .accepted(let answer): states = answer
        case .refused(let body, _):
            logger.warning("the collector refused the sudo grants: \(body.message); drop-ins kept until their deadline")
            return nil
        case .unavailable, .busy: return nil
        }
        sudoFollow = states.contains { $0.status == .pending }
        let now = Date()
        let inForce = states.filter { $0.status == .active && ($0.validUntil ?? now) > now }
        let installed = dropIns.installed()
        for grant in inForce where !installed.contains(where: { $0.id == grant.id }) {
            guard let uid = UserDatabase.uid(name: grant.user) else {
                logger.warning("sudo grant \(grant.id) is for \(grant.user), who is not a user here; not installed")
                continue
            }
            guard sudoMayInstall(since: generation) else { break }
            do {
                let dropIn = try await dropIns.install(grant, uid: uid)
                guard sudoMayInstall(since: generation) else {
                    removeSudo(dropIn, dropIns, why: "the device turned non-compliant while it was installed")
                    break
                }
                logger.notice(
                    "sudo for \(grant.user) (grant \(grant.grant), id \(grant.id)) until \(grant.validUntil.map { "\($0)" } ?? "-"): \(dropIn.path)",
                    metadata: [
                        "posture.event": "sudo-grant-installed", "posture.user": "\(grant.user)",
                        "posture.grant": "\(grant.grant)", "posture.id": "\(grant.id)",
                    ])
            } catch {
                logger.error(
                    "sudo grant \(grant.id) for \(grant.user) not installed: \(error)",
                    metadata: ["posture.event": "sudo-grant-failed", "posture.id": "\(grant.id)"])
            }
        }
        for dropIn in installed where !inForce.contains(where: { $0.id == dropIn.id }) {
            let status = states.first { $0.id == dropIn.id }?.status.rawValue ?? "unknown to the collector"
            removeSudo(dropIn, dropIns, why: "the grant is \(status)")
        }
        return states
    }

    /// Nothing was removed since `generation`, and the verdict this agent holds is compliant.
    private func sudoMayInstall(since generation: Int) -> Bool {
        sudoGeneration == generation && (verdict?.status ?? .compliant) == .compliant
    }

    /// Every drop-in goes: the device is not compliant (`learned`), whatever the collector says later.
    func dropSudoGrants(why: String) {
        sudoGeneration += 1
        guard let dropIns = sudoDropIns else { return }
        for dropIn in dropIns.installed() { removeSudo(dropIn, dropIns, why: why) }
    }

    private func removeExpiredSudo(_ dropIns: SudoersDropIns) {
        let now = Int64(Date().timeIntervalSince1970)
        for dropIn in dropIns.installed() where dropIn.deadline <= now {
            removeSudo(dropIn, dropIns, why: "its deadline passed")
        }
    }

    private func removeSudo(_ dropIn: SudoersDropIns.Installed, _ dropIns: SudoersDropIns, why: String) {
        do {
            try dropIns.remove(dropIn)
            sudoGeneration += 1
            sudoFollow = true
            logger.notice(
                "sudo grant \(dropIn.id) removed: \(why)",
                metadata: ["posture.event": "sudo-grant-removed", "posture.id": "\(dropIn.id)"])
        } catch {
            logger.error("sudo grant \(dropIn.id) not removed: \(error)")
        }
    }
}
