import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Row ↔ record conversions, the same for both backends.
enum StoreCoding {
    static func json(_ labels: [String: String]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(labels), as: UTF8.self)
    }

    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func labels(_ text: String) throws -> [String: String] {
        try JSONDecoder().decode([String: String].self, from: Data(text.utf8))
    }

    static func token(_ row: SQLRow) throws -> TokenRecord {
        TokenRecord(
            id: try row.text("id"), hash: try row.text("hash"), reusable: try row.bool("reusable"),
            allowReenroll: try row.bool("allow_reenroll"), labels: try labels(try row.text("labels")),
            createdAt: try row.date("created_at"), expiresAt: try row.date("expires_at"),
            usedAt: try row.optionalDate("used_at"), uses: try row.int("uses"))
    }

    static func device(_ row: SQLRow) throws -> DeviceRecord {
        DeviceRecord(
            id: try row.text("id"), machineID: try row.text("machine_id"), hostname: try row.text("hostname"),
            labels: try labels(try row.text("labels")),
            status: DeviceStatus(rawValue: try row.text("status")) ?? .revoked, enrolledAt: try row.date("enrolled_at"),
            revokedAt: try row.optionalDate("revoked_at"),
            lastSequence: UInt64(clamping: try row.int64("last_sequence")),
            keyThumbprint: try row.text("key_thumbprint"),
            keyProtection: KeyProtection(rawValue: try row.text("key_protection")) ?? .software,
            tpm: try row.optionalText("tpm").flatMap {
                try? JSONDecoder().decode(TPMIdentity.self, from: Data($0.utf8))
            })
    }

    static func certificate(_ row: SQLRow) throws -> CertificateRecord {
        CertificateRecord(
            serial: try row.text("serial"), deviceID: try row.text("device_id"), notBefore: try row.date("not_before"),
            notAfter: try row.date("not_after"), pem: try row.text("pem"))
    }

    static func securityEvent(_ row: SQLRow) throws -> SecurityEvent {
        SecurityEvent(
            at: try row.date("at"), deviceID: try row.optionalText("device_id"), code: try row.text("code"),
            message: try row.text("message"), peer: try row.optionalText("peer"), id: try row.int64("id"))
    }

    static func action(_ row: SQLRow) throws -> OperatorAction {
        OperatorAction(
            id: try row.int64("id"), at: try row.date("at"), actor: try row.text("actor"),
            action: try row.text("action"), deviceID: try row.optionalText("device_id"),
            target: try row.optionalText("target"), reason: try row.text("reason"))
    }

    static func apiToken(_ row: SQLRow) throws -> APITokenRecord {
        APITokenRecord(
            id: try row.text("id"), hash: try row.text("hash"), name: try row.text("name"),
            scopes: try row.text("scopes").split(separator: " ").map(String.init),
            createdAt: try row.date("created_at"),
            expiresAt: try row.optionalDate("expires_at"), revokedAt: try row.optionalDate("revoked_at"))
    }

    static func outbox(_ row: SQLRow) throws -> OutboxEntry {
        OutboxEntry(
            id: try row.int64("id"), streamID: try row.text("stream_id"), jti: try row.text("jti"),
            setJWT: try row.text("set_jwt"), createdAt: try row.date("created_at"), attempts: try row.int("attempts"),
            nextAttemptAt: try row.date("next_attempt_at"), deliveredAt: try row.optionalDate("delivered_at"))
    }
}
