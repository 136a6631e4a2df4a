import Crypto
import PostureModel
import SwiftASN1
import X509

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Proof that a device key lives in a real TPM, in two steps on the enrollment listener:
/// 1. `challenge`: the endorsement key's certificate must chain to `tpm.endorsementRoots`; a secret is then
///    sealed to that EK for the attestation key's Name (MakeCredential).
/// 2. `verify` (inside enrollment): the secret came back (ActivateCredential worked, so the AK is in the EK's
///    TPM), and the AK certified the CSR's key (TPM2_Certify over the secret), so the device key is in that
///    TPM too, made there and not exportable.
/// The secret is an HMAC of what it is bound to (EK certificate, AK Name, token, expiry) under a key every
/// collector of the store shares, so step 2 may reach another collector than step 1.
struct TPMEnrollment: Sendable {
    let roots: CertificateStore
    let intermediates: CertificateStore
    let credentialKey: SymmetricKey
    static let challengeLifetime: Int64 = 300

    /// What enrollment records of a TPM-bound device.
    struct Verified: Sendable, Equatable {
        /// SHA-256 of the EK certificate (DER), hex: the TPM's identity.
        var endorsementFingerprint: String
        /// The AK's TPM2B_PUBLIC: what later quotes are checked with.
        var attestationKey: [UInt8]
        var firmwareVersion: UInt64
        /// The PCRs quoted at enrollment, when the device sent a quote.
        var bootBaseline: [String]?
    }

    init(roots: [Certificate], credentialKey: SymmetricKey) {
        let selfSigned = roots.filter { $0.subject == $0.issuer }
        self.roots = CertificateStore(selfSigned)
        intermediates = CertificateStore(roots.filter { $0.subject != $0.issuer })
        self.credentialKey = credentialKey
    }

    /// Reads `tpm.endorsementRoots`: every certificate in every file.
    static func loadRoots(_ paths: [String]) throws -> [Certificate] {
        var certificates: [Certificate] = []
        for path in paths {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw CollectorError(.configuration, "tpm.endorsementRoots: cannot read \(path)")
            }
            do {
                let documents = try PEMDocument.parseMultiple(pemString: text)
                guard !documents.isEmpty else { throw CollectorError(.configuration, "no PEM certificate") }
                certificates += try documents.map { try Certificate(pemDocument: $0) }
            } catch {
                throw CollectorError(
                    .configuration, "tpm.endorsementRoots: \(path) is not PEM certificates (\(error))")
            }
        }
        return certificates
    }

    /// Step 1.
    func challenge(_ request: TPMChallengeRequest, now: Date) async throws(AttestationRefusal) -> TPMChallenge {
        let endorsement = try await checkEndorsement(request.endorsement, now: now)
        let expiresAt = Int64(now.timeIntervalSince1970) + Self.challengeLifetime
        let secret = self.secret(endorsement, token: request.token, expiresAt: expiresAt)
        do {
            let sealed = try MakeCredential.seal(
                credential: secret, objectName: endorsement.attestationName, endorsementKey: endorsement.ek)
            return TPMChallenge(
                credential: Data(sealed.credentialBlob).base64EncodedString(),
                secret: Data(sealed.encryptedSecret).base64EncodedString(), expiresAt: expiresAt)
        } catch {
            throw AttestationRefusal(.tpmEvidenceInvalid, "cannot seal a credential to this EK: \(error)")
        }
    }

    /// Step 2: checks everything again (nothing of step 1 is kept) and that `deviceKey` is the CSR's key.
    func verify(_ evidence: TPMKeyEvidence, token: String, deviceKey csrKey: P256.Signing.PublicKey, now: Date)
        async throws(AttestationRefusal) -> Verified
    {
        guard evidence.expiresAt >= Int64(now.timeIntervalSince1970) else {
            throw AttestationRefusal(
                .tpmEvidenceInvalid, "the TPM challenge expired; enroll again (it lasts \(Self.challengeLifetime) s)")
        }
        let endorsement = try await checkEndorsement(evidence.endorsement, now: now)
        let expected = secret(endorsement, token: token, expiresAt: evidence.expiresAt)
        guard let activated = Self.bytes(evidence.activated),
            activated.count == expected.count,
            zip(activated, expected).reduce(0, { $0 | ($1.0 ^ $1.1) }) == 0
        else {
            throw AttestationRefusal(
                .tpmEvidenceInvalid,
                "the activated credential is not the collector's: the attestation key is not in the TPM the EK certificate names"
            )
        }
        guard let keyBytes = Self.bytes(evidence.deviceKey), let key = try? TPMPublicArea(tpm2bPublic: keyBytes) else {
            throw AttestationRefusal(.tpmEvidenceInvalid, "tpm.deviceKey is not a TPM2B_PUBLIC")
        }
        let required: TPMPublicArea.Attributes = [.fixedTPM, .fixedParent, .sensitiveDataOrigin, .sign]
        guard key.attributes.isSuperset(of: required), !key.attributes.contains(.restricted),
            let keyPoint = key.publicKey,
            keyPoint.x963Representation == csrKey.x963Representation
        else {
            throw AttestationRefusal(
                .tpmEvidenceInvalid,
                "tpm.deviceKey is not the CSR's key as a P-256 signing key made in and bound to its TPM (fixedTPM, fixedParent, sensitiveDataOrigin)"
            )
        }
        guard let attestBytes = Self.bytes(evidence.certify), let attest = try? TPMAttest(attestBytes),
            let signature = Self.bytes(evidence.certifySignature)
        else {
            throw AttestationRefusal(.tpmEvidenceInvalid, "tpm.certify is not a TPMS_ATTEST with its signature")
        }
        guard attest.isSigned(by: endorsement.attestationKey, signature: signature) else {
            throw AttestationRefusal(.tpmEvidenceInvalid, "tpm.certify is not signed by the attestation key")
        }
        guard attest.type == TPMAttest.typeCertify, attest.extraData == expected, attest.certifiedName == key.name
        else {
            throw AttestationRefusal(
                .tpmEvidenceInvalid,
                "tpm.certify does not certify tpm.deviceKey over the collector's credential")
        }
        var baseline: [String]?
        if let quote = evidence.quote {
            guard let quoteBytes = Self.bytes(quote), let signature = Self.bytes(evidence.quoteSignature ?? ""),
                let pcrs = evidence.pcrs
            else {
                throw AttestationRefusal(
                    .tpmEvidenceInvalid, "tpm.quote comes with tpm.quoteSignature and tpm.pcrs, base64 and hex")
            }
            if let problem = MeasuredBoot.checkQuote(
                attest: quoteBytes, signature: signature, attestationKey: endorsement.attestationKey,
                qualifyingData: expected, pcrs: pcrs)
            {
                throw AttestationRefusal(.tpmEvidenceInvalid, "tpm.quote: \(problem)")
            }
            baseline = pcrs
        }
        return Verified(
            endorsementFingerprint: endorsement.fingerprint, attestationKey: endorsement.attestationKeyBytes,
            firmwareVersion: attest.firmwareVersion, bootBaseline: baseline)
    }

    struct Endorsement {
        var ek: TPMPublicArea
        var fingerprint: String
        var attestationKey: P256.Signing.PublicKey
        var attestationKeyBytes: [UInt8]
        var attestationName: [UInt8]
    }

    /// The EK certificate chains to a configured root and holds the EK; the AK is a restricted P-256
    /// signing key bound to its TPM.
    private func checkEndorsement(_ endorsement: TPMEndorsement, now: Date) async throws(AttestationRefusal)
        -> Endorsement
    {
        guard let der = Self.bytes(endorsement.certificate), let certificate = try? Certificate(derEncoded: der) else {
            throw AttestationRefusal(.tpmEvidenceInvalid, "tpm.endorsement.certificate is not a DER certificate")
        }
        var verifier = Verifier(rootCertificates: roots) {
            RFC5280Policy(fixedValidationTime: now)
            EndorsementCertificatePolicy()
        }
        guard case .validCertificate = await verifier.validate(leaf: certificate, intermediates: intermediates) else {
            throw AttestationRefusal(
                .tpmUntrusted,
                "the TPM's endorsement key certificate (issuer \(certificate.issuer)) does not chain to a root in tpm.endorsementRoots"
            )
        }
        guard let ekBytes = Self.bytes(endorsement.key), let ek = try? TPMPublicArea(tpm2bPublic: ekBytes),
            Self.point(of: certificate) == [4] + ek.x + ek.y
        else {
            throw AttestationRefusal(
                .tpmEvidenceInvalid, "tpm.endorsement.key is not the ECC key of the endorsement certificate")
        }
        guard let akBytes = Self.bytes(endorsement.attestationKey),
            let ak = try? TPMPublicArea(tpm2bPublic: akBytes), let akKey = ak.publicKey, let akName = ak.name,
            ak.attributes.isSuperset(of: [.fixedTPM, .fixedParent, .sensitiveDataOrigin, .restricted, .sign]),
            ak.nameAlgorithm == TPMPublicArea.algorithmSHA256
        else {
            throw AttestationRefusal(
                .tpmEvidenceInvalid,
                "tpm.endorsement.attestationKey is not a restricted P-256 signing key bound to its TPM")
        }
        return Endorsement(
            ek: ek, fingerprint: SHA256.hash(data: der).map { String(format: "%02x", $0) }.joined(),
            attestationKey: akKey, attestationKeyBytes: akBytes, attestationName: akName)
    }

    private func secret(_ endorsement: Endorsement, token: String, expiresAt: Int64) -> [UInt8] {
        var message = Array("posture tpm credential v1".utf8)
        message += Array(endorsement.fingerprint.utf8) + endorsement.attestationName
        message += Array(SHA256.hash(data: Array(token.utf8)))
        message += (0..<8).map { UInt8(truncatingIfNeeded: expiresAt >> (56 - 8 * $0)) }
        return Array(HMAC<SHA256>.authenticationCode(for: message, using: credentialKey))
    }

    private static func bytes(_ base64: String) -> [UInt8]? {
        guard base64.utf8.count <= 8192, let data = Data(base64Encoded: base64) else { return nil }
        return Array(data)
    }

    /// The uncompressed point of an ECC certificate's key.
    private static func point(of certificate: Certificate) -> [UInt8]? {
        if let key = P256.Signing.PublicKey(certificate.publicKey) { return Array(key.x963Representation) }
        if let key = P384.Signing.PublicKey(certificate.publicKey) { return Array(key.x963Representation) }
        return nil
    }
}

/// EK certificates carry the TPM's manufacturer, model and version in a critical subjectAltName with only a
/// directoryName (TCG EK Credential Profile §3.2.9), which the generic verifier refuses as unhandled.
struct EndorsementCertificatePolicy: VerifierPolicy {
    let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = [.X509ExtensionID.subjectAlternativeName]

    func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) async -> PolicyEvaluationResult {
        .meetsPolicy
    }
}
