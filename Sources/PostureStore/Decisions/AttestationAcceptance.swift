import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Whether an attestation is accepted, decided over the stored state its transaction read (and, on
/// PostgreSQL, locked). Rules (PROTOCOL.md, "Freshness"):
/// - the device is active;
/// - the sequence is greater than the last accepted one. A report that fails here is `already_accepted` when
///   this device's report with that sequence is stored (a resend after a lost answer: the agent may drop
///   it), else `nonce_reused` when its nonce was consumed, else `sequence_not_increasing`: neither proves
///   the sequence was stored, so the agent keeps those reports aside;
/// - the nonce was issued to this device (`nonce_unknown`);
/// - the report was not signed before its nonce existed (`stale_issue_time`);
/// - a nonce's first report was signed before the nonce expired (`nonce_expired`);
/// - a nonce carries further reports only if they were signed before a newer nonce was issued: that is
///   a backlog spooled while the collector was unreachable; signing with an old nonce after a newer one
///   was issued (beyond the skew) is `nonce_superseded`, which the agent cures by signing the same
///   sequence again under a fresh nonce.
public enum AttestationAcceptance {
    public struct Device: Sendable, Equatable {
        public var status: String
        public var lastSequence: UInt64

        public init(status: String, lastSequence: UInt64) {
            self.status = status
            self.lastSequence = lastSequence
        }
    }

    public struct Nonce: Sendable, Equatable {
        public var issuedAt: Date
        public var expiresAt: Date
        public var firstUsedAt: Date?
        public var supersededAt: Date?

        public init(issuedAt: Date, expiresAt: Date, firstUsedAt: Date? = nil, supersededAt: Date? = nil) {
            self.issuedAt = issuedAt
            self.expiresAt = expiresAt
            self.firstUsedAt = firstUsedAt
            self.supersededAt = supersededAt
        }
    }

    /// Whether the store must be asked if this sequence is stored already: only for one below the last
    /// accepted. The last accepted itself (an agent's retry after a lost answer, the common case) is
    /// stored by definition, which spares the store an index on every attestation's sequence.
    public static func needsStoredCheck(_ envelope: AttestationEnvelope, device: Device?) -> Bool {
        guard let device else { return false }
        return envelope.sequence < device.lastSequence
    }

    /// The delivery (`fresh` or `late`) of an accepted report, or why it is refused.
    public static func decide(
        _ envelope: AttestationEnvelope, receivedAt: Date, device: Device?, nonce: Nonce?, sequenceStored: Bool,
        policy: FreshnessPolicy
    ) -> Result<String, AttestationRefusal> {
        let skew = policy.skewSeconds
        let issued = envelope.issuedAt.timeIntervalSince1970
        guard let device else {
            return .failure(AttestationRefusal(.deviceUnknown, "device \(envelope.deviceID) is not enrolled here"))
        }
        guard device.status == "active" else {
            return .failure(
                AttestationRefusal(
                    .deviceRevoked, "device \(envelope.deviceID) is \(device.status); enroll it again"))
        }
        guard envelope.sequence > device.lastSequence else {
            if sequenceStored || envelope.sequence == device.lastSequence {
                return .failure(
                    AttestationRefusal(
                        .alreadyAccepted,
                        "report \(envelope.sequence) of device \(envelope.deviceID) is stored already; nothing to resend"
                    ))
            }
            if nonce?.firstUsedAt != nil {
                return .failure(
                    AttestationRefusal(
                        .nonceReused,
                        "nonce already used by an accepted report and sequence \(envelope.sequence) is not after \(device.lastSequence): a replay"
                    ))
            }
            return .failure(
                AttestationRefusal(
                    .sequenceNotIncreasing,
                    "sequence \(envelope.sequence) is not greater than the last accepted, \(device.lastSequence)"))
        }
        guard let nonce else {
            return .failure(
                AttestationRefusal(
                    .nonceUnknown,
                    "the nonce was not issued to device \(envelope.deviceID); fetch one with GET /v1/nonce"))
        }
        let nonceIssued = nonce.issuedAt.timeIntervalSince1970
        guard issued >= nonceIssued - skew else {
            return .failure(
                AttestationRefusal(
                    .staleIssueTime,
                    "the report was signed \((nonceIssued - issued).saturatingInt) s before its nonce was issued (skew allowed: \(skew.saturatingInt) s)"
                ))
        }
        if nonce.firstUsedAt == nil {
            let expires = nonce.expiresAt.timeIntervalSince1970
            guard issued <= expires + skew else {
                return .failure(
                    AttestationRefusal(
                        .nonceExpired,
                        "the nonce expired \((issued - expires).saturatingInt) s before the report was signed; fetch one with GET /v1/nonce"
                    ))
            }
        } else if let superseded = nonce.supersededAt?.timeIntervalSince1970, issued > superseded + skew {
            return .failure(
                AttestationRefusal(
                    .nonceSuperseded,
                    "the report was signed \((issued - superseded).saturatingInt) s after a newer nonce replaced its own (skew allowed: \(skew.saturatingInt) s); sign it again with the newest nonce (GET /v1/nonce)"
                ))
        }
        return .success(receivedAt.timeIntervalSince1970 - issued > skew ? "late" : "fresh")
    }
}
