#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The signed payload of an attestation: who, which one, when, against which nonce, and the facts.
public struct AttestationPayload: Codable, Sendable, Equatable {
    /// Bumped on any incompatible change to this envelope; the collector refuses versions it does not know.
    public static let currentSchemaVersion = 1

    public var schemaVersion: Int
    public var deviceID: String
    /// Strictly increasing per device, starting at 1; never reused, even across agent restarts.
    public var sequence: UInt64
    /// When the agent signed this payload.
    public var issuedAt: Date
    /// The nonce the collector issued for this device's next report.
    public var nonce: String
    /// Reports the agent had to drop because its spool was full, if any since the last delivered report.
    public var spoolGap: SpoolGap?
    public var report: PostureReport

    public init(
        deviceID: String, sequence: UInt64, issuedAt: Date, nonce: String, spoolGap: SpoolGap? = nil,
        report: PostureReport
    ) {
        self.schemaVersion = Self.currentSchemaVersion
        self.deviceID = deviceID
        self.sequence = sequence
        self.issuedAt = issuedAt
        self.nonce = nonce
        self.spoolGap = spoolGap
        self.report = report
    }
}

/// The envelope fields without the facts: what the collector checks before it stores the payload.
public struct AttestationEnvelope: Codable, Sendable, Equatable {
    public var schemaVersion: Int
    public var deviceID: String
    public var sequence: UInt64
    public var issuedAt: Date
    public var nonce: String
    public var spoolGap: SpoolGap?

    public init(
        schemaVersion: Int, deviceID: String, sequence: UInt64, issuedAt: Date, nonce: String, spoolGap: SpoolGap?
    ) {
        self.schemaVersion = schemaVersion
        self.deviceID = deviceID
        self.sequence = sequence
        self.issuedAt = issuedAt
        self.nonce = nonce
        self.spoolGap = spoolGap
    }
}

/// A run of sequence numbers the agent dropped, oldest first, because the spool bound was hit.
public struct SpoolGap: Codable, Sendable, Equatable {
    public var firstSequence: UInt64
    public var lastSequence: UInt64
    public var count: UInt64

    public init(firstSequence: UInt64, lastSequence: UInt64, count: UInt64) {
        self.firstSequence = firstSequence
        self.lastSequence = lastSequence
        self.count = count
    }
}

/// The collector's answer to an accepted attestation.
public struct AttestationReceipt: Codable, Sendable, Equatable {
    public var deviceID: String
    public var sequence: UInt64
    /// `fresh`, or `late` when the report was signed longer ago than the skew window (a spooled backlog).
    public var delivery: String
    public var nextNonce: IssuedNonce

    public init(deviceID: String, sequence: UInt64, delivery: String, nextNonce: IssuedNonce) {
        self.deviceID = deviceID
        self.sequence = sequence
        self.delivery = delivery
        self.nextNonce = nextNonce
    }
}

/// A single-use nonce and when it stops being accepted for a first report.
public struct IssuedNonce: Codable, Sendable, Equatable {
    public var value: String
    public var issuedAt: Date
    public var expiresAt: Date

    public init(value: String, issuedAt: Date, expiresAt: Date) {
        self.value = value
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
    }
}

/// `POST /v1/enroll` body.
public struct EnrollmentRequest: Codable, Sendable, Equatable {
    public var token: String
    /// PKCS#10 CSR, PEM.
    public var csr: String
    public var machineID: String
    public var hostname: String
    /// Present when the CSR's key lives in a TPM: the proof, checked before the certificate is issued.
    public var tpm: TPMKeyEvidence?

    public init(token: String, csr: String, machineID: String, hostname: String, tpm: TPMKeyEvidence? = nil) {
        self.token = token
        self.csr = csr
        self.machineID = machineID
        self.hostname = hostname
        self.tpm = tpm
    }
}

/// `POST /v1/enroll` and `POST /v1/renew` answer.
public struct CertificateGrant: Codable, Sendable, Equatable {
    public var deviceID: String
    public var identity: String
    /// The device certificate, PEM.
    public var certificate: String
    /// The CA bundle to trust for the collector and to chain the device certificate, PEM.
    public var caBundle: String
    public var notAfter: Date
    public var nonce: IssuedNonce
    /// Where the device sends attestations (mutual TLS).
    public var devicesURL: String
    /// Every collector of the fleet, in the order to try them (the first is `devicesURL`); absent with one.
    public var devicesURLs: [String]?
    /// The collector's verdict-signing keys (a JWKS): the agent acts only on verdicts they verify.
    public var verdictKeys: String?

    public init(
        deviceID: String, identity: String, certificate: String, caBundle: String, notAfter: Date, nonce: IssuedNonce,
        devicesURL: String, devicesURLs: [String]? = nil, verdictKeys: String? = nil
    ) {
        self.devicesURL = devicesURL
        self.devicesURLs = devicesURLs
        self.verdictKeys = verdictKeys
        self.deviceID = deviceID
        self.identity = identity
        self.certificate = certificate
        self.caBundle = caBundle
        self.notAfter = notAfter
        self.nonce = nonce
    }
}

/// `POST /v1/renew` body: a CSR for the same device key.
public struct RenewalRequest: Codable, Sendable, Equatable {
    public var csr: String
    public init(csr: String) { self.csr = csr }
}

extension PostureReport {
    /// The wire coding of attestations and API bodies: the report's canonical coding.
    public static func wireEncoder() -> JSONEncoder { makeEncoder() }
    public static func wireDecoder() -> JSONDecoder { makeDecoder() }
}

/// `GET /v1/keys` (devices listener): the CA bundle and the verdict-signing keys as they are now.
public struct TrustMaterial: Codable, Sendable, Equatable {
    /// PEM.
    public var caBundle: String
    /// A JWKS.
    public var verdictKeys: String

    public init(caBundle: String, verdictKeys: String) {
        self.caBundle = caBundle
        self.verdictKeys = verdictKeys
    }
}
