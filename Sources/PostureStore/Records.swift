import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An enrollment token as stored: only its SHA-256, never the token itself.
public struct TokenRecord: Sendable, Equatable, Codable {
    public var id: String
    public var hash: String
    public var reusable: Bool
    /// May enroll a machine-id that is already enrolled (the old device is then marked replaced).
    public var allowReenroll: Bool
    public var labels: [String: String]
    public var createdAt: Date
    public var expiresAt: Date
    public var usedAt: Date?
    public var uses: Int

    public init(
        id: String, hash: String, reusable: Bool, allowReenroll: Bool, labels: [String: String], createdAt: Date,
        expiresAt: Date, usedAt: Date? = nil, uses: Int = 0
    ) {
        self.id = id
        self.hash = hash
        self.reusable = reusable
        self.allowReenroll = allowReenroll
        self.labels = labels
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.usedAt = usedAt
        self.uses = uses
    }
}

public enum DeviceStatus: String, Sendable, Codable {
    case active, revoked, replaced
}

public struct DeviceRecord: Sendable, Equatable, Codable {
    public var id: String
    public var machineID: String
    public var hostname: String
    public var labels: [String: String]
    public var status: DeviceStatus
    public var enrolledAt: Date
    public var revokedAt: Date?
    public var lastSequence: UInt64
    public var keyThumbprint: String
    /// Where the device key lives, as enrollment proved it (software unless a TPM proved otherwise).
    public var keyProtection: KeyProtection = .software
    /// The TPM that holds the key, when one does.
    public var tpm: TPMIdentity?

    public init(
        id: String, machineID: String, hostname: String, labels: [String: String], status: DeviceStatus,
        enrolledAt: Date, revokedAt: Date? = nil, lastSequence: UInt64 = 0, keyThumbprint: String,
        keyProtection: KeyProtection = .software, tpm: TPMIdentity? = nil
    ) {
        self.keyProtection = keyProtection
        self.tpm = tpm
        self.id = id
        self.machineID = machineID
        self.hostname = hostname
        self.labels = labels
        self.status = status
        self.enrolledAt = enrolledAt
        self.revokedAt = revokedAt
        self.lastSequence = lastSequence
        self.keyThumbprint = keyThumbprint
    }
}

public struct CertificateRecord: Sendable, Equatable, Codable {
    public var serial: String
    public var deviceID: String
    public var notBefore: Date
    public var notAfter: Date
    public var pem: String

    public init(serial: String, deviceID: String, notBefore: Date, notAfter: Date, pem: String) {
        self.serial = serial
        self.deviceID = deviceID
        self.notBefore = notBefore
        self.notAfter = notAfter
        self.pem = pem
    }
}

/// What the store needs to enroll a device in one transaction with consuming the token.
public struct Enrollment: Sendable {
    public var tokenHash: String
    public var device: DeviceRecord
    public var certificate: CertificateRecord
    public var nonce: IssuedNonce

    public init(tokenHash: String, device: DeviceRecord, certificate: CertificateRecord, nonce: IssuedNonce) {
        self.tokenHash = tokenHash
        self.device = device
        self.certificate = certificate
        self.nonce = nonce
    }
}

/// What a store keeps of an attestation so that anyone with the device certificate can verify it again.
public enum AttestationEvidence: Sendable, Equatable {
    /// Schema 1: the compact JWS whose payload holds the whole report.
    case compactJWS(String)
    /// Schema 2: the signed envelope's bytes, its raw signature (the header is the canonical one for the
    /// device's key) and the parts it names by digest, each stored once however many envelopes name it.
    case envelope(Data, signature: Data, parts: [ReportBody])
}

/// A part of a schema 2 report, keyed by the base64url SHA-256 of its bytes.
public struct ReportBody: Sendable, Equatable {
    public var digest: String
    public var bytes: Data

    public init(digest: String, bytes: Data) {
        self.digest = digest
        self.bytes = bytes
    }
}

/// A verified attestation (certificate, signature, device, schema checked) awaiting the checks that need
/// stored state: nonce, sequence, issue time against the nonce.
public struct PendingAttestation: Sendable {
    public var envelope: AttestationEnvelope
    public var evidence: AttestationEvidence
    /// The device's latest state as stored: the verified payload as JSON (schema 1), or the verified
    /// envelope (schema 2), which readers compose with the parts it names into schema 1's shape
    /// (`LatestPayload`): the hot path neither encodes the report again nor writes it per attestation.
    public var payload: Data
    public var receivedAt: Date
    /// The next nonce, issued if this one is accepted.
    public var nextNonce: IssuedNonce
    /// The report's journal event counts as JSON (nil when none): the signals verdicts sum over a window.
    public var journalCounts: String?
    /// os-release `ID` and `VERSION_ID` of the report ('' when unknown), for the fleet index.
    public var os: String
    public var osVersion: String

    public init(
        envelope: AttestationEnvelope, evidence: AttestationEvidence, payload: Data, receivedAt: Date,
        nextNonce: IssuedNonce, journalCounts: String? = nil, os: String = "", osVersion: String = ""
    ) {
        self.os = os
        self.osVersion = osVersion
        self.envelope = envelope
        self.evidence = evidence
        self.payload = payload
        self.receivedAt = receivedAt
        self.nextNonce = nextNonce
        self.journalCounts = journalCounts
    }
}

/// The time rules the store applies, from the collector's configuration.
public struct FreshnessPolicy: Sendable {
    /// How far a report's issue time may be ahead of the collector's clock or behind a nonce's issue.
    public var skew: Duration

    public init(skew: Duration) { self.skew = skew }

    var skewSeconds: Double { Double(skew.components.seconds) + Double(skew.components.attoseconds) / 1e18 }
}

public struct StoredAttestation: Sendable, Equatable, Codable {
    public var deviceID: String
    public var sequence: UInt64
    public var issuedAt: Date
    public var receivedAt: Date
    public var delivery: String
    /// The compact JWS the device signed: the whole report (schema 1) or the envelope (schema 2).
    public var jws: String
    /// Schema 2: the report and journal parts the envelope names by SHA-256, as the device sent them.
    public var reportPart: String?
    public var journalPart: String?
}

public struct SecurityEvent: Sendable, Equatable, Codable {
    public var at: Date
    public var deviceID: String?
    public var code: String
    public var message: String
    public var peer: String?
    /// The store's row ID (nil before it is stored): the cursor of event pages.
    public var id: Int64?

    public init(at: Date, deviceID: String?, code: String, message: String, peer: String?, id: Int64? = nil) {
        self.id = id
        self.at = at
        self.deviceID = deviceID
        self.code = code
        self.message = message
        self.peer = peer
    }
}

/// A device as the fleet sees it: its record, its newest accepted report, counts.
public struct DeviceView: Sendable, Codable {
    public var device: DeviceRecord
    public var attestations: Int
    public var lastReceivedAt: Date?
    public var lastIssuedAt: Date?
    public var lastDelivery: String?
    /// The newest accepted payload (JSON text), for display.
    public var latestPayload: String?
}

/// The TPM a device's key was proven to live in at enrollment.
public struct TPMIdentity: Sendable, Equatable, Codable {
    /// SHA-256 of the endorsement key certificate (DER), hex: the same TPM enrolls under the same value.
    public var endorsementFingerprint: String
    /// The attestation key's TPM2B_PUBLIC, base64: what the device's quotes are verified with.
    public var attestationKey: String
    /// TPM firmware version from the certification (signed by the attestation key).
    public var firmwareVersion: UInt64
    /// SHA-256 PCR 0–9 (lowercase hex) that `measuredBoot` expects: quoted at enrollment, replaced by an
    /// operator's accept (`posturectl devices accept-boot`). Nil: none recorded.
    public var bootBaseline: [String]?

    public init(
        endorsementFingerprint: String, attestationKey: String, firmwareVersion: UInt64, bootBaseline: [String]? = nil
    ) {
        self.bootBaseline = bootBaseline
        self.endorsementFingerprint = endorsementFingerprint
        self.attestationKey = attestationKey
        self.firmwareVersion = firmwareVersion
    }
}
