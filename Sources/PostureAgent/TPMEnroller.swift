import Crypto
import PostureClient
import PostureModel
import PostureTPM

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The TPM half of enrollment: the endorsement certificate and the attestation key go to the collector,
/// which seals a secret to them; the TPM recovers it (ActivateCredential) and certifies the device key
/// over it. What comes back is the evidence `POST /v1/enroll` carries.
struct TPMEnroller {
    let key: TPMDeviceKey
    let token: String
    var tpm: TPM { key.tpm }

    enum Outcome {
        case evidence(TPMKeyEvidence)
        /// The collector cannot verify this TPM (no trusted root, or none configured), or the TPM has no
        /// ECC endorsement certificate: why.
        case unproven(String)
    }

    func prove(with client: CollectorClient) async throws -> Outcome {
        let certificate: [UInt8]
        let endorsementKey: [UInt8]
        let attestationKey: [UInt8]
        do {
            (certificate, endorsementKey) = try tpm.endorsement()
            attestationKey = try tpm.attestationKey()
        } catch {
            return .unproven("\(error)")
        }
        let endorsement = TPMEndorsement(
            certificate: Data(certificate).base64EncodedString(), key: Data(endorsementKey).base64EncodedString(),
            attestationKey: Data(attestationKey).base64EncodedString())
        let challenge: TPMChallenge
        switch await client.postJSON(
            "/v1/enroll/tpm-challenge", TPMChallengeRequest(token: token, endorsement: endorsement),
            answer: TPMChallenge.self)
        {
        case .accepted(let value): challenge = value
        case .refused(let error, _) where error.error == .tpmUntrusted:
            return .unproven("the collector does not trust this TPM: \(error.message)")
        case .refused(let error, _):
            throw AgentError(.refused, "the collector refused the TPM: \(error.error): \(error.message)")
        case .unavailable(let reason), .busy(let reason, _):
            throw AgentError(.collectorUnreachable, "cannot reach the collector for the TPM challenge: \(reason)")
        }
        guard let credential = Data(base64Encoded: challenge.credential),
            let secret = Data(base64Encoded: challenge.secret)
        else {
            throw AgentError(.refused, "the collector's TPM challenge is not base64")
        }
        let activated = try tpm.activate(credential: Array(credential), secret: Array(secret))
        let certified = try tpm.certifyDeviceKey(qualifyingData: activated)
        var evidence = TPMKeyEvidence(
            endorsement: endorsement, expiresAt: challenge.expiresAt,
            activated: Data(activated).base64EncodedString(),
            deviceKey: Data(key.blob.public).base64EncodedString(),
            certify: Data(certified.attest).base64EncodedString(),
            certifySignature: Data(certified.signature).base64EncodedString())
        // What booted now: the collector's baseline for `measuredBoot`. A PCR extended between the read and the
        // quote makes them disagree: read again; without a quote the device enrolls with no baseline (an
        // operator accepts its boot later).
        for _ in 0..<3 {
            let pcrs = try tpm.pcrValues(DetachedAttestation.quotedPCRs)
            let quote = try tpm.quote(pcrs: DetachedAttestation.quotedPCRs, qualifyingData: activated)
            guard (try? TPMAttest(quote.attest))?.pcrDigest == Array(SHA256.hash(data: pcrs.flatMap { $0 })) else {
                continue
            }
            evidence.quote = Data(quote.attest).base64EncodedString()
            evidence.quoteSignature = Data(quote.signature).base64EncodedString()
            evidence.pcrs = pcrs.map(\.hex)
            break
        }
        return .evidence(evidence)
    }
}
