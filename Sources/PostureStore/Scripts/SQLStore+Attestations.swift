import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension SQLStore: AttestationStore {
    public func issueNonce(_ nonce: IssuedNonce, deviceID: String) async throws {
        try await write { db in try Self.insertNonce(nonce, deviceID: deviceID, db) }
    }

    public func accept(_ batch: [PendingAttestation], policy: FreshnessPolicy) async throws
        -> [Result<AttestationReceipt, StoreRefusal>]
    {
        try await write { db in try batch.map { try Self.accept($0, policy: policy, db) } }
    }

    /// Reads (and on PostgreSQL locks) the device, reads its nonce, decides, and writes what an accepted
    /// report changes. The device's row lock orders concurrent reports of one device across collectors.
    static func accept(_ pending: PendingAttestation, policy: FreshnessPolicy, _ db: any SQLExecutor) throws
        -> Result<AttestationReceipt, StoreRefusal>
    {
        let envelope = pending.envelope
        let device = try db.row(
            "SELECT status, last_sequence FROM devices WHERE id = ?" + db.dialect.forUpdate, [envelope.deviceID]
        ).map {
            AttestationAcceptance.Device(
                status: try $0.text("status"), lastSequence: UInt64(clamping: try $0.int64("last_sequence")))
        }
        let nonce = try db.row(
            "SELECT issued_at, expires_at, first_used_at, superseded_at FROM nonces WHERE value = ? AND device_id = ?",
            [envelope.nonce, envelope.deviceID]
        ).map {
            AttestationAcceptance.Nonce(
                issuedAt: try $0.date("issued_at"), expiresAt: try $0.date("expires_at"),
                firstUsedAt: try $0.optionalDate("first_used_at"), supersededAt: try $0.optionalDate("superseded_at"))
        }
        var stored = false
        if AttestationAcceptance.needsStoredCheck(envelope, device: device) {
            stored =
                try db.row(
                    "SELECT 1 AS stored FROM attestations WHERE device_id = ? AND sequence = ?",
                    [envelope.deviceID, envelope.sequence]) != nil
        }
        let delivery: String
        switch AttestationAcceptance.decide(
            envelope, receivedAt: pending.receivedAt, device: device, nonce: nonce, sequenceStored: stored,
            policy: policy)
        {
        case .failure(let refusal): return .failure(refusal)
        case .success(let decided): delivery = decided
        }
        var jws: String?
        var envelopeBytes: Data?
        var signature: Data?
        var digests: [String?] = [nil, nil]
        switch pending.evidence {
        case .compactJWS(let compact): jws = compact
        case .envelope(let bytes, let signed, let parts):
            try ReportBodies.store(parts, at: pending.receivedAt, db)
            envelopeBytes = bytes
            signature = signed
            digests = parts.count == 2 ? parts.map(\.digest) : [nil, nil]
        }
        try db.execute(
            """
            INSERT INTO attestations (device_id, sequence, issued_at, received_at, delivery, jws, envelope, signature,
                journal_counts)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                envelope.deviceID, envelope.sequence, envelope.issuedAt, pending.receivedAt, delivery, jws,
                envelopeBytes, signature, pending.journalCounts,
            ])
        try db.execute("UPDATE devices SET last_sequence = ? WHERE id = ?", [envelope.sequence, envelope.deviceID])
        let firstUse = try db.execute(
            "UPDATE nonces SET first_used_at = ? WHERE value = ? AND first_used_at IS NULL",
            [pending.receivedAt, envelope.nonce])
        if firstUse == 1, let used = nonce {
            // The agent signs with the newest nonce it holds and delivers in order, so any report under an
            // older nonce has a lower sequence, refused by that alone: the older nonces are dead. Deleting
            // them keeps a device at about two nonce rows instead of one more per attestation.
            try db.execute(
                "DELETE FROM nonces WHERE device_id = ? AND issued_at < ? AND value <> ?",
                [envelope.deviceID, used.issuedAt, envelope.nonce])
        }
        try db.execute(
            """
            INSERT INTO device_state (device_id, sequence, issued_at, received_at, delivery, payload, report_digest,
                journal_digest)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (device_id) DO UPDATE SET sequence = excluded.sequence, issued_at = excluded.issued_at,
                received_at = excluded.received_at, delivery = excluded.delivery, payload = excluded.payload,
                report_digest = excluded.report_digest, journal_digest = excluded.journal_digest
            """,
            [
                envelope.deviceID, envelope.sequence, envelope.issuedAt, pending.receivedAt, delivery,
                String(decoding: pending.payload, as: UTF8.self), digests[0], digests[1],
            ])
        try FleetIndex.reportStored(
            envelope.deviceID, receivedAt: pending.receivedAt, os: pending.os, osVersion: pending.osVersion, db)
        try insertNonce(pending.nextNonce, deviceID: envelope.deviceID, db)
        try db.notify(.device(envelope.deviceID))
        return .success(
            AttestationReceipt(
                deviceID: envelope.deviceID, sequence: envelope.sequence, delivery: delivery,
                nextNonce: pending.nextNonce))
    }

    /// Newest first, each as the device signed it: a schema 2 envelope's JWS is put back together with the
    /// canonical header for the device's key, and its parts inflated.
    public func attestations(deviceID: String, limit: Int) async throws -> [StoredAttestation] {
        try await read { db in
            let kid = try db.row("SELECT key_thumbprint FROM devices WHERE id = ?", [deviceID])?.text("key_thumbprint")
            // The newest day first (one partition on PostgreSQL, whose index is by device only): a higher
            // sequence was always received no earlier, so if that day holds `limit`, they are the newest.
            let last = try db.row("SELECT received_at FROM device_state WHERE device_id = ?", [deviceID])?
                .double("received_at")
            let newest = "SELECT * FROM attestations WHERE device_id = ?"
            var rows = try db.rows(
                newest + " AND received_at >= ? ORDER BY sequence DESC LIMIT ?",
                [deviceID, (last ?? 0) - 86400, limit])
            if rows.count < limit {
                rows = try db.rows(newest + " ORDER BY sequence DESC LIMIT ?", [deviceID, limit])
            }
            // A device's attestations name the same few parts: each is read and inflated once per call.
            var parts: [String: String?] = [:]
            func part(_ digest: String) throws -> String? {
                if let known = parts[digest] { return known }
                let text = try ReportBodies.load(digest, db).map { String(decoding: $0, as: UTF8.self) }
                parts[digest] = text
                return text
            }
            return try rows.map { row in
                var stored = StoredAttestation(
                    deviceID: try row.text("device_id"), sequence: UInt64(clamping: try row.int64("sequence")),
                    issuedAt: try row.date("issued_at"), receivedAt: try row.date("received_at"),
                    delivery: try row.text("delivery"), jws: try row.optionalText("jws") ?? "")
                if let envelope = try row.optionalBlob("envelope"), let signature = try row.optionalBlob("signature"),
                    let kid
                {
                    stored.jws = CompactJWS.reassembled(kid: kid, payload: envelope, signature: signature)
                    let named = try PostureReport.wireDecoder().decode(
                        DetachedAttestation.Envelope.self, from: envelope)
                    stored.reportPart = try part(named.report)
                    stored.journalPart = try part(named.journal)
                }
                return stored
            }
        }
    }

    public func recordSecurityEvents(_ events: [SecurityEvent]) async throws {
        guard !events.isEmpty else { return }
        try await write { db in
            for event in events {
                let id = try db.insert(
                    "INSERT INTO security_events (at, device_id, code, message, peer) VALUES (?, ?, ?, ?, ?)",
                    [event.at, event.deviceID, event.code, event.message, event.peer])
                if event.code.hasPrefix("enforcement.") { try AuditTrail.append(.enforcement, sourceID: id, db) }
            }
        }
    }

    public func securityEvents(limit: Int) async throws -> [SecurityEvent] {
        try await read { db in
            try db.rows("SELECT * FROM security_events ORDER BY id DESC LIMIT ?", [limit]).map(
                StoreCoding.securityEvent)
        }
    }

    /// Writes and commits one row: fails when the store cannot take a write (full disk, read-only, locked).
    public func checkWritable(now: Date) async throws {
        try await write { db in
            try db.execute(
                """
                INSERT INTO store_health (id, checked_at) VALUES (1, ?)
                ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at
                """, [now])
        }
    }
}
