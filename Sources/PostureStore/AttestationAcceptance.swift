import GRDB
import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The checks that need stored state, run inside the write transaction so that concurrent deliveries
/// (or several collectors) see each other's effects. Rules (PROTOCOL.md, "Freshness"):
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
enum AttestationAcceptance {
    static func accept(_ pending: PendingAttestation, policy: FreshnessPolicy, db: Database) throws
        -> AttestationReceipt
    {
        let envelope = pending.envelope
        let skew = policy.skewSeconds
        let issued = envelope.issuedAt.timeIntervalSince1970
        guard
            let device = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT status, last_sequence FROM devices WHERE id = ?"),
                arguments: [envelope.deviceID])
        else {
            throw AttestationRefusal(.deviceUnknown, "device \(envelope.deviceID) is not enrolled here")
        }
        guard device["status"] as String == "active" else {
            throw AttestationRefusal(
                .deviceRevoked, "device \(envelope.deviceID) is \(device["status"] as String); enroll it again")
        }
        let nonce = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT * FROM nonces WHERE value = ? AND device_id = ?"),
            arguments: [envelope.nonce, envelope.deviceID])
        let lastSequence = UInt64(clamping: device["last_sequence"] as Int64)
        guard envelope.sequence > lastSequence else {
            let stored = try Bool.fetchOne(
                db.cachedStatement(sql: "SELECT 1 FROM attestations WHERE device_id = ? AND sequence = ?"),
                arguments: [envelope.deviceID, Int64(clamping: envelope.sequence)])
            if stored == true {
                throw AttestationRefusal(
                    .alreadyAccepted,
                    "report \(envelope.sequence) of device \(envelope.deviceID) is stored already; nothing to resend")
            }
            if let nonce, nonce["first_used_at"] as Double? != nil {
                throw AttestationRefusal(
                    .nonceReused,
                    "nonce already used by an accepted report and sequence \(envelope.sequence) is not after \(lastSequence): a replay"
                )
            }
            throw AttestationRefusal(
                .sequenceNotIncreasing,
                "sequence \(envelope.sequence) is not greater than the last accepted, \(lastSequence)")
        }
        guard let nonce else {
            throw AttestationRefusal(
                .nonceUnknown, "the nonce was not issued to device \(envelope.deviceID); fetch one with GET /v1/nonce")
        }
        let nonceIssued: Double = nonce["issued_at"]
        guard issued >= nonceIssued - skew else {
            throw AttestationRefusal(
                .staleIssueTime,
                "the report was signed \((nonceIssued - issued).saturatingInt) s before its nonce was issued (skew allowed: \(skew.saturatingInt) s)"
            )
        }
        if nonce["first_used_at"] as Double? == nil {
            let expires: Double = nonce["expires_at"]
            guard issued <= expires + skew else {
                throw AttestationRefusal(
                    .nonceExpired,
                    "the nonce expired \((issued - expires).saturatingInt) s before the report was signed; fetch one with GET /v1/nonce"
                )
            }
        } else if let superseded = nonce["superseded_at"] as Double?, issued > superseded + skew {
            throw AttestationRefusal(
                .nonceSuperseded,
                "the report was signed \((issued - superseded).saturatingInt) s after a newer nonce replaced its own (skew allowed: \(skew.saturatingInt) s); sign it again with the newest nonce (GET /v1/nonce)"
            )
        }
        let received = pending.receivedAt.timeIntervalSince1970
        let delivery = received - issued > skew ? "late" : "fresh"
        try StoreSQL.run(
            db,
            sql: """
                INSERT INTO attestations (device_id, sequence, issued_at, received_at, delivery, jws, journal_counts)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                envelope.deviceID, Int64(clamping: envelope.sequence), issued, received, delivery, pending.jws,
                pending.journalCounts,
            ])
        try StoreSQL.run(
            db,
            sql: "UPDATE devices SET last_sequence = ? WHERE id = ?",
            arguments: [Int64(clamping: envelope.sequence), envelope.deviceID])
        try StoreSQL.run(
            db,
            sql: "UPDATE nonces SET first_used_at = ? WHERE value = ? AND first_used_at IS NULL",
            arguments: [received, envelope.nonce])
        try StoreSQL.run(
            db,
            sql: """
                INSERT INTO device_state (device_id, sequence, issued_at, received_at, delivery, payload)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (device_id) DO UPDATE SET sequence = excluded.sequence, issued_at = excluded.issued_at,
                    received_at = excluded.received_at, delivery = excluded.delivery, payload = excluded.payload
                """,
            arguments: [
                envelope.deviceID, Int64(clamping: envelope.sequence), issued, received, delivery,
                String(decoding: pending.payload, as: UTF8.self),
            ])
        try SQLiteStore.insertNonce(pending.nextNonce, deviceID: envelope.deviceID, db: db)
        return AttestationReceipt(
            deviceID: envelope.deviceID, sequence: envelope.sequence, delivery: delivery, nextNonce: pending.nextNonce)
    }
}

/// Statements on the hot path are prepared once per connection and reused.
enum StoreSQL {
    static func run(_ db: Database, sql: String, arguments: StatementArguments) throws {
        try db.cachedStatement(sql: sql).execute(arguments: arguments)
    }
}
