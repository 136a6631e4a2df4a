import Crypto
import PostureModel
import PostureSystem
import X509

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The agent's state directory (default `/var/lib/posture`, mode 0700):
/// `device.key` (0600), `device.crt`, `ca.crt`, `enrollment.json`, `nonce.json`, `sequence`,
/// `journal.cursor`, `spool/`. Every write is durable (fsync, atomic rename).
public struct AgentState: Sendable {
    public let directory: String

    public static let defaultDirectory = "/var/lib/posture"

    public init(directory: String) { self.directory = directory }

    public var keyPath: String { directory + "/device.key" }
    /// The device key's blob when the key lives in a TPM (then there is no `device.key`).
    public var tpmKeyPath: String { directory + "/device.tpmkey" }
    public var certificatePath: String { directory + "/device.crt" }
    public var caPath: String { directory + "/ca.crt" }
    package var enrollmentPath: String { directory + "/enrollment.json" }
    package var noncePath: String { directory + "/nonce.json" }
    package var sequencePath: String { directory + "/sequence" }
    package var cursorPath: String { directory + "/journal.cursor" }
    /// The newest verdict the collector gave this device (0644: people on the endpoint may read it).
    public var verdictPath: String { directory + "/verdict.json" }
    /// The collector's verdict-signing keys (JWKS), pinned at enrollment.
    public var verdictKeysPath: String { directory + "/verdict-keys.json" }
    /// What enforcement has put in place, so it can be undone (and shown by `postured status`).
    public var enforcementPath: String { directory + "/enforcement.json" }
    public var spoolDirectory: String { directory + "/spool" }
    /// Since when each pending security update has been offered (`PendingUpdate.key` → time).
    package var pendingUpdatesPath: String { directory + "/pending-updates.json" }

    /// What enrollment established.
    public struct Enrollment: Codable, Sendable, Equatable {
        public var deviceID: String
        public var identity: String
        public var collectorURL: String
        public var devicesURL: String
        /// Every collector of the fleet, tried in order when one cannot be reached (nil: `devicesURL` alone).
        public var devicesURLs: [String]? = nil
        public var enrolledAt: Date
        /// The TCTI of the TPM holding the device key (nil: a software key).
        public var tpm: String? = nil

        package init(
            deviceID: String, identity: String, collectorURL: String, devicesURL: String, devicesURLs: [String]?,
            enrolledAt: Date, tpm: String? = nil
        ) {
            self.deviceID = deviceID
            self.identity = identity
            self.collectorURL = collectorURL
            self.devicesURL = devicesURL
            self.devicesURLs = devicesURLs
            self.enrolledAt = enrolledAt
            self.tpm = tpm
        }
    }

    public func prepare() throws {
        try DurableFile.makeDirectory(directory, mode: 0o700)
        try DurableFile.makeDirectory(spoolDirectory, mode: 0o700)
    }

    public func enrollment() throws -> Enrollment? {
        try readJSON(Enrollment.self, enrollmentPath)
    }

    public func requireEnrollment() throws -> Enrollment {
        guard let enrollment = try enrollment() else {
            throw AgentError(
                .notEnrolled,
                "this device is not enrolled (no \(enrollmentPath)); run `postured enroll --collector URL --token TOKEN --ca-fingerprint sha256:…` first"
            )
        }
        return enrollment
    }

    package func save(_ enrollment: Enrollment) throws { try writeJSON(enrollment, enrollmentPath) }

    package func nonce() throws -> IssuedNonce? { try readJSON(IssuedNonce.self, noncePath) }
    package func save(_ nonce: IssuedNonce) throws { try writeJSON(nonce, noncePath) }

    public func verdict() throws -> Verdict? { try readJSON(Verdict.self, verdictPath) }
    package func save(_ verdict: Verdict) throws {
        try DurableFile.write(Array(try PostureReport.wireEncoder().encode(verdict)), to: verdictPath, mode: 0o644)
    }

    /// The last sequence number used (0 before the first report).
    package func lastSequence() throws -> UInt64 {
        guard let bytes = try DurableFile.read(sequencePath) else { return 0 }
        return UInt64(String(decoding: bytes, as: UTF8.self).trimmingWhitespace()) ?? 0
    }

    package func saveSequence(_ sequence: UInt64) throws {
        try DurableFile.write(Array("\(sequence)\n".utf8), to: sequencePath, mode: 0o600)
    }

    /// The journal cursor of the last report the collector accepted.
    public func acceptedCursor() throws -> String? {
        guard let bytes = try DurableFile.read(cursorPath) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
        return text.isEmpty ? nil : text
    }

    package func saveAcceptedCursor(_ cursor: String) throws {
        try DurableFile.write(Array((cursor + "\n").utf8), to: cursorPath, mode: 0o600)
    }

    /// What the agent remembers of pending security updates. A missing or unreadable file is an empty
    /// memory: the waits then count from the lists' date again, which errs towards shorter, never longer.
    package func pendingSince() -> [String: Date] {
        (try? readJSON([String: Date].self, pendingUpdatesPath)) ?? [:]
    }

    package func savePendingSince(_ since: [String: Date]) throws { try writeJSON(since, pendingUpdatesPath) }

    package func readText(_ path: String) throws -> String? {
        try DurableFile.read(path).map { String(decoding: $0, as: UTF8.self) }
    }

    package func writeText(_ text: String, _ path: String, mode: UInt32 = 0o644) throws {
        try DurableFile.write(Array(text.utf8), to: path, mode: mode)
    }

    private func readJSON<T: Decodable>(_ type: T.Type, _ path: String) throws -> T? {
        guard let bytes = try DurableFile.read(path) else { return nil }
        do {
            return try PostureReport.wireDecoder().decode(type, from: Data(bytes))
        } catch {
            throw AgentError(.stateDirectory, "\(path) is corrupt (\(error)); remove it and enroll again")
        }
    }

    private func writeJSON(_ value: some Encodable, _ path: String) throws {
        try DurableFile.write(Array(try PostureReport.wireEncoder().encode(value)), to: path, mode: 0o600)
    }
}

/// The device key: P-256, PEM (PKCS#8) in `device.key`, created once with mode 0600.
public enum DeviceKeyFile {
    public static func loadOrCreate(_ path: String) throws -> SoftwareSigningKey {
        if let bytes = try DurableFile.read(path) {
            do {
                return SoftwareSigningKey(
                    try P256.Signing.PrivateKey(pemRepresentation: String(decoding: bytes, as: UTF8.self)))
            } catch {
                throw AgentError(
                    .stateDirectory,
                    "the device key \(path) is not a P-256 PEM key (\(error)); remove the state directory and enroll again"
                )
            }
        }
        let key = P256.Signing.PrivateKey()
        try DurableFile.write(Array(key.pemRepresentation.utf8), to: path, mode: 0o600)
        return SoftwareSigningKey(key)
    }

    /// A PKCS#10 request for the key, naming the host.
    public static func csr(for key: SoftwareSigningKey, hostname: String) throws -> String {
        try csr(privateKey: Certificate.PrivateKey(key.privateKey), hostname: hostname)
    }

    /// The same for any key swift-certificates can sign with (a TPM-resident one).
    public static func csr(privateKey: Certificate.PrivateKey, hostname: String) throws -> String {
        let request = try CertificateSigningRequest(
            version: .v1,
            subject: try DistinguishedName {
                CommonName(hostname.isEmpty ? "posture-device" : String(hostname.prefix(64)))
            },
            privateKey: privateKey, attributes: CertificateSigningRequest.Attributes(),
            signatureAlgorithm: .ecdsaWithSHA256)
        return try request.serializeAsPEM().pemString
    }
}
