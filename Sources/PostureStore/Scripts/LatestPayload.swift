import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A device's newest payload as readers see it, in schema 1's JSON shape. `device_state.payload` holds
/// that JSON for a schema 1 attestation, and the verified envelope for a schema 2 one: the parts it names
/// are kept while `device_state` names them (`ReportBodies.prune`), and are composed here, on read, so
/// that ingest neither encodes the report again nor rewrites it per attestation.
enum LatestPayload {
    /// The payload JSON, or nil when a schema 2 envelope's parts cannot be read or no longer match it.
    /// `parts` carries inflated parts between calls: many devices name the same ones.
    static func text(_ stored: String, _ db: any SQLExecutor, parts: inout [String: Data]) throws -> String? {
        guard let envelope = envelope(stored) else { return stored }
        guard let payload = try composed(envelope, db, parts: &parts),
            let json = try? PostureReport.wireEncoder().encode(payload)
        else { return nil }
        return String(decoding: json, as: UTF8.self)
    }

    /// The payload decoded, or nil when it cannot be (a schema 1 text that no longer parses, or parts
    /// that cannot be read or no longer match their envelope).
    static func attestation(_ stored: String, _ db: any SQLExecutor, parts: inout [String: Data]) throws
        -> AttestationPayload?
    {
        guard let envelope = envelope(stored) else {
            return try? PostureReport.wireDecoder().decode(AttestationPayload.self, from: Data(stored.utf8))
        }
        return try composed(envelope, db, parts: &parts)
    }

    private static func envelope(_ stored: String) -> DetachedAttestation.Envelope? {
        guard
            let envelope = try? PostureReport.wireDecoder().decode(
                DetachedAttestation.Envelope.self, from: Data(stored.utf8)),
            envelope.v == DetachedAttestation.schemaVersion
        else { return nil }
        return envelope
    }

    private static func composed(
        _ envelope: DetachedAttestation.Envelope, _ db: any SQLExecutor, parts: inout [String: Data]
    ) throws -> AttestationPayload? {
        func part(_ digest: String) throws -> Data? {
            if let known = parts[digest] { return known }
            let loaded = try ReportBodies.load(digest, db)
            parts[digest] = loaded
            return loaded
        }
        guard let report = try part(envelope.report), let journal = try part(envelope.journal) else { return nil }
        return try? DetachedAttestation.payload(for: envelope, reportPart: report, journalPart: journal)
    }
}
