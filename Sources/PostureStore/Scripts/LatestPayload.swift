import Dispatch
import PostureModel
import Synchronization

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
        let prepared = try prepare(stored, db, parts: &parts)
        if case .schema1(let text) = prepared { return text }
        guard let payload = prepared.decode(), let json = try? PostureReport.wireEncoder().encode(payload)
        else { return nil }
        return String(decoding: json, as: UTF8.self)
    }

    /// The payload decoded, or nil when it cannot be (a schema 1 text that no longer parses, or parts
    /// that cannot be read or no longer match their envelope).
    static func attestation(_ stored: String, _ db: any SQLExecutor, parts: inout [String: Data]) throws
        -> AttestationPayload?
    {
        try prepare(stored, db, parts: &parts).decode()
    }

    /// A stored payload with what it names read from the store, to be decoded later and anywhere: the
    /// decoding is most of a collector's start, and it runs on every core (`decodeConcurrently`).
    enum Prepared: Sendable {
        case schema1(String)
        case schema2(DetachedAttestation.Envelope, report: Data, journal: Data)
        case unreadable

        func decode() -> AttestationPayload? {
            switch self {
            case .schema1(let text):
                return try? PostureReport.wireDecoder().decode(AttestationPayload.self, from: Data(text.utf8))
            case .schema2(let envelope, let report, let journal):
                return try? DetachedAttestation.payload(for: envelope, reportPart: report, journalPart: journal)
            case .unreadable:
                return nil
            }
        }
    }

    static func prepare(_ stored: String, _ db: any SQLExecutor, parts: inout [String: Data]) throws -> Prepared {
        guard let envelope = envelope(stored) else { return .schema1(stored) }
        func part(_ digest: String) throws -> Data? {
            if let known = parts[digest] { return known }
            let loaded = try ReportBodies.load(digest, db)
            parts[digest] = loaded
            return loaded
        }
        guard let report = try part(envelope.report), let journal = try part(envelope.journal) else {
            return .unreadable
        }
        return .schema2(envelope, report: report, journal: journal)
    }

    /// Each payload decoded, in order, spread over the machine's cores.
    static func decodeConcurrently(_ prepared: [Prepared]) -> [AttestationPayload?] {
        let width = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let chunk = max(64, (prepared.count + width - 1) / width)
        let chunks = (prepared.count + chunk - 1) / chunk
        let results = Mutex<[Int: [AttestationPayload?]]>([:])
        DispatchQueue.concurrentPerform(iterations: chunks) { index in
            let decoded = prepared[index * chunk..<min(prepared.count, (index + 1) * chunk)].map { $0.decode() }
            results.withLock { $0[index] = decoded }
        }
        return results.withLock { decoded in (0..<chunks).flatMap { decoded[$0] ?? [] } }
    }

    private static func envelope(_ stored: String) -> DetachedAttestation.Envelope? {
        guard
            let envelope = try? PostureReport.wireDecoder().decode(
                DetachedAttestation.Envelope.self, from: Data(stored.utf8)),
            envelope.v == DetachedAttestation.schemaVersion
        else { return nil }
        return envelope
    }
}
