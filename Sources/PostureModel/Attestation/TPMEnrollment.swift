#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What a TPM says of itself at enrollment; every binary field is base64.
public struct TPMEndorsement: Codable, Sendable, Equatable {
    /// The endorsement key's certificate (DER), read from the TPM's NV.
    public var certificate: String
    /// The endorsement key's public area (marshalled TPM2B_PUBLIC).
    public var key: String
    /// The attestation key's public area (marshalled TPM2B_PUBLIC): a restricted signing key in that TPM.
    public var attestationKey: String

    public init(certificate: String, key: String, attestationKey: String) {
        self.certificate = certificate
        self.key = key
        self.attestationKey = attestationKey
    }
}

/// `POST /v1/enroll/tpm-challenge` (enrollment listener): the first step of a TPM enrollment.
public struct TPMChallengeRequest: Codable, Sendable, Equatable {
    public var token: String
    public var endorsement: TPMEndorsement

    public init(token: String, endorsement: TPMEndorsement) {
        self.token = token
        self.endorsement = endorsement
    }
}

/// The answer: a secret sealed to the endorsement key for the attestation key's Name (MakeCredential). Only
/// the TPM holding both keys recovers it (ActivateCredential).
public struct TPMChallenge: Codable, Sendable, Equatable {
    /// TPM2B_ID_OBJECT's contents (without the size), base64.
    public var credential: String
    /// TPM2B_ENCRYPTED_SECRET's contents, base64.
    public var secret: String
    /// Seconds since the epoch; the secret is bound to it and useless after.
    public var expiresAt: Int64

    public init(credential: String, secret: String, expiresAt: Int64) {
        self.credential = credential
        self.secret = secret
        self.expiresAt = expiresAt
    }
}

/// In `EnrollmentRequest.tpm`: the proof that the CSR's key lives in the endorsed TPM.
public struct TPMKeyEvidence: Codable, Sendable, Equatable {
    public var endorsement: TPMEndorsement
    /// The challenge's `expiresAt`.
    public var expiresAt: Int64
    /// The secret ActivateCredential recovered, base64.
    public var activated: String
    /// The device key's public area (marshalled TPM2B_PUBLIC), base64.
    public var deviceKey: String
    /// TPM2_Certify of the device key by the attestation key, with the recovered secret as qualifying data:
    /// the TPMS_ATTEST and its signature (r‖s), base64.
    public var certify: String
    public var certifySignature: String
    /// A TPM2_Quote of the boot PCRs by the attestation key over the same secret, with the values quoted
    /// (lowercase hex, PCR 0–9): the collector records them as the device's measured-boot baseline.
    public var quote: String?
    public var quoteSignature: String?
    public var pcrs: [String]?

    public init(
        endorsement: TPMEndorsement, expiresAt: Int64, activated: String, deviceKey: String, certify: String,
        certifySignature: String
    ) {
        self.endorsement = endorsement
        self.expiresAt = expiresAt
        self.activated = activated
        self.deviceKey = deviceKey
        self.certify = certify
        self.certifySignature = certifySignature
    }
}
