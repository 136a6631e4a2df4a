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

    /// The device's last accepted report (none before its first: sequences start at 1).
    static func isLastAccepted(_ envelope: AttestationEnvelope, device: Device) -> Bool {
        device.lastSequence > 0 && envelope.sequence == device.lastSequence
    }

    /// The delivery (`fresh` or `late`) of an accepted report, or why it is refused.
    public static func decide(
        _ envelope: AttestationEnvelope, receivedAt: Date, device: Device?, nonce: Nonce?, sequenceStored: Bool,
        policy: FreshnessPolicy
    ) -> Result<String, StoreRefusal> {
        let skew = policy.skewSeconds
        let issued = envelope.issuedAt.timeIntervalSince1970
        guard let device else { return .failure(.deviceUnknown(device: envelope.deviceID)) }
        guard device.status == "active" else {
            return .failure(.deviceInactive(device: envelope.deviceID, status: device.status))
        }
        guard envelope.sequence > device.lastSequence else {
            if sequenceStored || isLastAccepted(envelope, device: device) {
                return .failure(.alreadyAccepted(device: envelope.deviceID, sequence: envelope.sequence))
            }
            if nonce?.firstUsedAt != nil {
                return .failure(.nonceReused(sequence: envelope.sequence, last: device.lastSequence))
            }
            return .failure(.sequenceNotIncreasing(sequence: envelope.sequence, last: device.lastSequence))
        }
        guard let nonce else { return .failure(.nonceUnknown(device: envelope.deviceID)) }
        let nonceIssued = nonce.issuedAt.timeIntervalSince1970
        guard issued >= nonceIssued - skew else {
            return .failure(.signedBeforeNonce(seconds: (nonceIssued - issued).saturatingInt, skew: skew.saturatingInt))
        }
        if nonce.firstUsedAt == nil {
            let expires = nonce.expiresAt.timeIntervalSince1970
            guard issued <= expires + skew else {
                return .failure(.nonceExpired(seconds: (issued - expires).saturatingInt))
            }
        } else if let superseded = nonce.supersededAt?.timeIntervalSince1970, issued > superseded + skew {
            return .failure(.nonceSuperseded(seconds: (issued - superseded).saturatingInt, skew: skew.saturatingInt))
        }
        return .success(receivedAt.timeIntervalSince1970 - issued > skew ? "late" : "fresh")
    }
}
