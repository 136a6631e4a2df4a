import Foundation
import PostureModel
import PostureStore
import PostureVerdict

/// The Security Event Tokens (RFC 8417) a stream carries, as SSF 1.0 and CAEP 1.0 define them: every SET
/// has `iss`, `aud`, `jti`, `iat`, a top-level `sub_id` (RFC 9493) and exactly one event.
struct SecurityEvents: Sendable {
    static let complianceChange = "https://schemas.openid.net/secevent/caep/event-type/device-compliance-change"
    static let verification = "https://schemas.openid.net/secevent/ssf/event-type/verification"
    static let streamUpdated = "https://schemas.openid.net/secevent/ssf/event-type/stream-updated"
    /// What a receiver may ask for. Verification and stream-updated events go to every stream that asked
    /// for them; SSF has them sent whether asked or not, and so do we.
    static let supported = [complianceChange, verification, streamUpdated]
    /// Subject formats a stream's device subjects can take (`posture_subject_format`).
    static let subjectFormats = ["iss_sub", "uri"]

    let issuer: String
    let trustDomain: String
    let keys: SigningKeys

    /// CAEP `device-compliance-change`, from the two-valued status (`compliant`, `not-compliant`: unknown
    /// counts as not compliant). The reason names the failing rules, or the operator's quarantine.
    func complianceChange(
        _ verdict: Verdict, before: String, entry: VerdictService.Entry, cause: EvaluationCause,
        stream: StreamRecord, now: Date
    ) -> OutboxEntry? {
        var reason =
            verdict.failing.map { "\($0.rule): \($0.observed)" } + verdict.unknown.map { "\($0.rule): \($0.observed)" }
        if let quarantine = verdict.quarantine {
            reason.insert("quarantined by \(quarantine.by): \(quarantine.reason)", at: 0)
        }
        let subject = deviceSubjects(verdict.deviceID, labels: entry.labels, stream: stream)
        let event: [String: Any] = [
            // The subject also inside the event, where CAEP's first receivers (Okta among them) read it;
            // SSF §3.1.1 allows both places.
            "subject": subject,
            "previous_status": before, "current_status": Self.caepStatus(verdict.status),
            "event_timestamp": Int(now.timeIntervalSince1970),
            "initiating_entity": cause.initiatingEntity,
            "reason_admin": ["en": reason.isEmpty ? "all rules pass" : reason.joined(separator: "; ")],
        ]
        let posture: [String: Any] = [
            "device_id": verdict.deviceID, "machine_id": entry.machineID, "hostname": entry.hostname,
            "status": verdict.status.rawValue, "risk": verdict.risk, "verdict_version": verdict.version,
        ]
        // txn (SSF §4.1.9) names the cause: the verdict, which every stream's SET of this change shares.
        return set(
            on: stream, subject: subject, type: Self.complianceChange, event: event,
            extra: ["posture": posture, "txn": verdict.version], now: now)
    }

    /// SSF §8.1.4: the receiver's `state`, echoed; the subject is the stream. Stream events' `txn` is
    /// their own: each answers one request.
    func verification(on stream: StreamRecord, state: String?, now: Date) -> OutboxEntry? {
        set(
            on: stream, subject: streamSubject(stream), type: Self.verification,
            event: state.map { ["state": $0] } ?? [:], extra: ["txn": UUID().uuidString.lowercased()], now: now)
    }

    /// SSF §8.1.5: the stream's new status and why.
    func streamUpdated(on stream: StreamRecord, now: Date) -> OutboxEntry? {
        var event: [String: Any] = ["status": stream.status]
        if let reason = stream.statusReason { event["reason"] = reason }
        return set(
            on: stream, subject: streamSubject(stream), type: Self.streamUpdated, event: event,
            extra: ["txn": UUID().uuidString.lowercased()], now: now)
    }

    static func caepStatus(_ status: ComplianceStatus) -> String {
        status == .compliant ? "compliant" : "not-compliant"
    }

    /// RFC 9493: `iss_sub` names the device by this collector's issuer and its device ID, which is what a
    /// receiver that also reads our verdicts (`sub` of a verdict JWT) already knows; `uri` by its identity
    /// URI, as streams made before schema v9 did.
    func deviceSubject(_ deviceID: String, stream: StreamRecord) -> [String: Any] {
        if stream.subjectFormat == "uri" {
            return ["format": "uri", "uri": DeviceIdentity(trustDomain: trustDomain, deviceID: deviceID).uri]
        }
        return ["format": "iss_sub", "iss": issuer, "sub": deviceID]
    }

    /// The label whose value, an email address, names the device's user (`complex` subject `user`, RFC
    /// 9493 `email`): receivers such as Okta act on users, and only the enrollment knows whose a device is.
    static let ownerLabel = "owner"

    /// A complex subject (SSF §3.3): the device, and its owner when the `owner` label is an email address.
    func deviceSubjects(_ deviceID: String, labels: [String: String], stream: StreamRecord) -> [String: Any] {
        var subject: [String: Any] = ["format": "complex", "device": deviceSubject(deviceID, stream: stream)]
        if let owner = labels[Self.ownerLabel], owner.contains("@"), !owner.hasPrefix("@"), !owner.hasSuffix("@") {
            subject["user"] = ["format": "email", "email": owner]
        }
        return subject
    }

    private func streamSubject(_ stream: StreamRecord) -> [String: Any] {
        ["format": "opaque", "id": stream.id]
    }

    private func set(
        on stream: StreamRecord, subject: [String: Any], type: String, event: [String: Any],
        extra: [String: Any] = [:], now: Date
    ) -> OutboxEntry? {
        let jti = UUID().uuidString.lowercased()
        var claims: [String: Any] = [
            "iss": issuer, "jti": jti, "iat": Int(now.timeIntervalSince1970), "aud": stream.audience,
            "sub_id": subject, "events": [type: event],
        ]
        claims.merge(extra) { current, _ in current }
        guard let body = try? JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys]),
            let jwt = try? keys.sign(claims: body, type: "secevent+jwt", algorithm: stream.algorithm)
        else { return nil }
        return OutboxEntry(streamID: stream.id, jti: jti, setJWT: jwt, createdAt: now, nextAttemptAt: now)
    }
}
