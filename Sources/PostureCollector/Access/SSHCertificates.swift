import Crypto
import PostureAccess
import PostureModel
import PostureStore
import PostureVerdict

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Posture-bound SSH certificates: issued to a device's user under a grant while the device is compliant,
/// listed in the KRL once the device is not (or the grant is revoked) until they expire.
extension CollectorCore {
    /// Decides and, if allowed, issues; refusals are audited and logged like grants.
    func issueSSHCertificate(_ request: SSHCertificateRequest, deviceID: String, now: Date = Date()) async throws
        -> SSHCertificateIssued
    {
        let event = { (name: String, detail: String) in
            AccessEvent(
                at: now, deviceID: deviceID, user: request.user, grant: request.grant, event: name,
                actor: "device:\(deviceID)", detail: detail)
        }
        try await checkAccessRate(deviceID, user: request.user, now: now)
        let key: SSHPublicKey
        let decision: (grant: AccessGrant, principals: [String], until: Date)
        do {
            key = try Self.publicKey(request.publicKey)
            let requested = try request.duration.map(Self.duration)
            let (policy, entry) = await verdicts.accessInputs(deviceID)
            guard let entry, let verdict = entry.verdict else {
                throw AccessRefusal(.notCompliant, "the collector has no verdict for this device yet")
            }
            decision = try policy.sshGrant(
                request.grant, user: request.user, groups: request.groups, deviceLabels: entry.labels,
                verdict: verdict, requested: requested, now: now)
        } catch let refusal as AccessRefusal {
            throw try await refuse(
                refusal, what: "SSH certificate", event: event("ssh-certificate-refused", refusal.description))
        }
        let validAfter = UInt64(now.timeIntervalSince1970)
        let validBefore = UInt64(decision.until.timeIntervalSince1970)
        let detail = Self.detailJSON([
            "principals": decision.principals.joined(separator: ","), "key": key.fingerprint, "type": key.type,
        ])
        let serial = try await store.recordGrant(
            AccessGrantRecord(
                deviceID: deviceID, user: request.user, grant: request.grant, kind: "ssh", status: "active",
                requestedAt: now, validFrom: Date(timeIntervalSince1970: Double(validAfter)),
                validUntil: Date(timeIntervalSince1970: Double(validBefore)), detail: detail),
            event: event("ssh-certificate-issued", detail))
        let keyID = "posture device=\(deviceID) user=\(request.user) grant=\(request.grant)"
        let certificate = try sshCA.issueUserCertificate(
            for: key, serial: UInt64(serial), keyID: keyID, principals: decision.principals, validAfter: validAfter,
            validBefore: validBefore)
        logger.notice(
            "SSH certificate \(serial) issued to \(request.user) (grant \(request.grant)) as \(decision.principals.joined(separator: ",")) until \(decision.until)",
            metadata: [
                "posture.event": "ssh-certificate-issued", "posture.device": "\(deviceID)",
                "posture.user": "\(request.user)", "posture.grant": "\(request.grant)", "posture.serial": "\(serial)",
            ])
        return SSHCertificateIssued(
            certificate: certificate.line(comment: "posture serial \(serial)"), serial: UInt64(serial), keyID: keyID,
            principals: decision.principals, validAfter: Date(timeIntervalSince1970: Double(validAfter)),
            validBefore: Date(timeIntervalSince1970: Double(validBefore)))
    }

    /// The KRL target hosts install for sshd's `RevokedKeys`: every certificate still valid whose device
    /// is not compliant now or whose grant was revoked.
    func sshKRL(now: Date = Date()) async throws -> (bytes: [UInt8], etag: String) {
        let serials = try await store.revokedSSHSerials(now: now).map { UInt64($0) }
        // No time in it (version and date 0): the same serials make the same bytes, and the same ETag.
        let krl = try SSHKeyRevocationList(
            version: 0, generatedAt: 0, comment: "posture-collector", ca: sshCA.publicKeyBlob, revokedSerials: serials)
        return (krl.bytes, SSHKeyRevocationList.tag(of: krl.bytes))
    }

    /// At most this many access events (grants and refusals, SSH and sudo) per local user of a device in an
    /// hour: a user asking in a loop cannot fill the store or the audit trail, nor use up other users' share.
    /// Past it their requests are refused before anything is stored.
    static let maxAccessEventsPerHour = 240

    /// The refusal of `user`'s request when their access events of the last hour on the device (from
    /// `recent`, the device's newest first) reach `maxAccessEventsPerHour`.
    static func rateRefusal(_ recent: [AccessEvent], user: String, now: Date) -> AttestationRefusal? {
        let lastHour = recent.filter { $0.user == user && now.timeIntervalSince($0.at) < 3600 }
        guard lastHour.count >= maxAccessEventsPerHour else { return nil }
        return AttestationRefusal(
            .accessRefused,
            "\(AccessRefusal.Code.badRequest.rawValue): \(user) made \(lastHour.count) access requests on this device within the hour, the most a user may; ask again later"
        )
    }

    /// Checks `rateRefusal` against the store; throws it (not recorded: that is the point).
    func checkAccessRate(_ deviceID: String, user: String, now: Date) async throws {
        let recent = try await store.accessEvents(deviceID: deviceID, user: user, limit: Self.maxAccessEventsPerHour)
        if let refusal = Self.rateRefusal(recent, user: user, now: now) { throw refusal }
    }

    /// A refused request for access: audited as `event`, logged as `access_refused` with the reason's code,
    /// and answered 403 with the reason.
    func refuse(_ refusal: AccessRefusal, what: String, event: AccessEvent) async throws -> AttestationRefusal {
        try await store.recordAccessEvent(event)
        logger.warning(
            "\(what) refused to \(event.user) (grant \(event.grant)): \(refusal)",
            metadata: [
                "posture.code": "access_refused", "posture.device": "\(event.deviceID)",
                "posture.user": "\(event.user)",
                "posture.grant": "\(event.grant)", "posture.reason": "\(refusal.code.rawValue)",
            ])
        return AttestationRefusal(.accessRefused, refusal.description)
    }

    private static func publicKey(_ line: String) throws(AccessRefusal) -> SSHPublicKey {
        do {
            return try SSHPublicKey(line: line)
        } catch {
            throw AccessRefusal(.badRequest, "publicKey: \(error.reason)")
        }
    }

    static func duration(_ text: String) throws(AccessRefusal) -> Duration {
        guard let duration = DurationText(text)?.duration else {
            throw AccessRefusal(.badRequest, "duration '\(text)' is not a duration; write e.g. 10m or 1h")
        }
        return duration
    }

    static func detailJSON(_ fields: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(fields)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
