#if DEBUG
    import Foundation
    @testable import PostureCollector
    import PostureModel

    /// A compact JWS as a device sends it: parse, verify under the fixed device key, then the collector's
    /// whole stateless check (AttestationVerifier: size, UTF-8, JWS, key, signature, envelope, limits).
    enum JWSTarget {
        static let verifier = AttestationVerifier(maxBodyBytes: 64 << 10, skew: .seconds(300))

        static func run(_ input: [UInt8]) -> String {
            let text = String(decoding: input, as: UTF8.self)
            if let jws = try? CompactJWS(parsing: text) {
                _ = jws.header
                if let payload = try? jws.verifiedPayload(with: Fixtures.deviceKey.publicKey) {
                    _ = try? PostureReport.wireDecoder().decode(AttestationPayload.self, from: payload)
                }
                _ = try? jws.verifiedPayload(signedBy: Fixtures.deviceKey.publicKey)
            }
            do {
                let attestation = try verifier.verify(body: input, peer: Fixtures.peer, now: Fixtures.now).payload
                // Accepted: what the collector does next with it.
                let verdict = ReportUse.exercise(
                    attestation.report, issuedAt: attestation.issuedAt, deviceID: attestation.deviceID)
                return "accepted, verdict \(verdict?.status.rawValue ?? "-")"
            } catch {
                return "refused: \(error.code)"
            }
        }
    }
#endif
