import Crypto
import PostureModel
import SwiftASN1
import X509

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The collector's CA: issues device certificates from CSRs and the collector's own server certificate.
/// Created on first start in the state directory (P-256, key 0600) or loaded from the operator's PKI.
public struct CertificateAuthority: @unchecked Sendable {
    // @unchecked: Certificate.PrivateKey wraps an immutable swift-crypto key (see SoftwareSigningKey).
    public let certificate: Certificate
    let privateKey: Certificate.PrivateKey
    public let trustDomain: String
    /// Secret material every collector of a fleet shares because it shares `ca.key`: the CA key's scalar
    /// (or the key file's SHA-256 for another kind of key). What keys derived for the fleet come from
    /// (TPM credentials), so that nothing usable sits in the store.
    let fleetSecret: [UInt8]

    public var pem: String { (try? certificate.serializeAsPEM().pemString) ?? "" }

    /// The same bytes on every collector given the same key, whatever PEM form the file has.
    static func fleetSecret(keyPEM: String) -> [UInt8] {
        if let key = try? P256.Signing.PrivateKey(pemRepresentation: keyPEM) { return Array(key.rawRepresentation) }
        if let key = try? P384.Signing.PrivateKey(pemRepresentation: keyPEM) { return Array(key.rawRepresentation) }
        return Array(SHA256.hash(data: Array(keyPEM.utf8)))
    }

    /// A key for one purpose, derived from the fleet's shared secret (HKDF-SHA256).
    func fleetKey(_ purpose: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: fleetSecret), info: Array(purpose.utf8), outputByteCount: 32)
    }

    /// Loads the CA named by the configuration, or creates one under the state directory.
    public static func loadOrCreate(_ configuration: CollectorConfiguration, now: Date) throws -> CertificateAuthority {
        if let certificatePath = configuration.ca.certificate, let keyPath = configuration.ca.key {
            return try load(certificatePath: certificatePath, keyPath: keyPath, trustDomain: configuration.trustDomain)
        }
        let certificatePath = configuration.stateDirectory + "/ca.crt"
        let keyPath = configuration.stateDirectory + "/ca.key"
        if FileManager.default.fileExists(atPath: keyPath) {
            return try load(certificatePath: certificatePath, keyPath: keyPath, trustDomain: configuration.trustDomain)
        }
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            OrganizationName("Posture")
            CommonName("Posture device CA (\(configuration.trustDomain))")
        }
        let publicKey = Certificate.PublicKey(key.publicKey)
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: publicKey)
            },
            issuerPrivateKey: Certificate.PrivateKey(key))
        try StateDirectory.prepare(configuration.stateDirectory)
        try StateDirectory.write(key.pemRepresentation, to: keyPath, mode: 0o600)
        try StateDirectory.write(try certificate.serializeAsPEM().pemString, to: certificatePath, mode: 0o644)
        return CertificateAuthority(
            certificate: certificate, privateKey: Certificate.PrivateKey(key), trustDomain: configuration.trustDomain,
            fleetSecret: Array(key.rawRepresentation))
    }

    static func load(certificatePath: String, keyPath: String, trustDomain: String) throws -> CertificateAuthority {
        guard let certificateText = try? String(contentsOfFile: certificatePath, encoding: .utf8),
            let keyText = try? String(contentsOfFile: keyPath, encoding: .utf8)
        else {
            throw CollectorError(
                .pki,
                "cannot read the CA certificate \(certificatePath) or key \(keyPath); check ca.certificate and ca.key and the files' permissions"
            )
        }
        do {
            let certificate = try Certificate(pemEncoded: certificateText)
            let key = try Certificate.PrivateKey(pemEncoded: keyText)
            guard key.publicKey == certificate.publicKey else {
                throw CollectorError(
                    .pki, "the CA key \(keyPath) does not belong to the CA certificate \(certificatePath)")
            }
            return CertificateAuthority(
                certificate: certificate, privateKey: key, trustDomain: trustDomain,
                fleetSecret: fleetSecret(keyPEM: keyText))
        } catch let error as CollectorError {
            throw error
        } catch {
            throw CollectorError(.pki, "cannot parse the CA files \(certificatePath), \(keyPath) as PEM: \(error)")
        }
    }

    /// Checks a CSR (well-formed, self-signed by a P-256 key) and returns its key.
    public static func devicePublicKey(fromCSR pem: String) throws(AttestationRefusal) -> P256.Signing.PublicKey {
        let csr: CertificateSigningRequest
        do {
            csr = try CertificateSigningRequest(pemEncoded: pem)
        } catch {
            throw AttestationRefusal(.badCSR, "the CSR is not a PEM PKCS#10 request: \(error)")
        }
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else {
            throw AttestationRefusal(.badCSR, "the CSR's signature does not verify under its own key")
        }
        guard let key = P256.Signing.PublicKey(csr.publicKey) else {
            throw AttestationRefusal(.badCSR, "the device key must be ECDSA P-256")
        }
        return key
    }

    /// How far before its issue a server or device certificate is valid: clock errors of up to an hour
    /// (a wrong time zone, a host whose clock was set by hand) cost no connection.
    public static let clockSlack: TimeInterval = 3600

    /// A client certificate for the device: its SPIFFE ID as the only URI SAN, client auth only. Valid from
    /// `backdate` before `now`: a certificate issued while this host's clock ran ahead must still work once
    /// the clock is corrected, or the device could not even connect to renew it.
    public func issueDeviceCertificate(
        deviceID: String, publicKey: P256.Signing.PublicKey, hostname: String, lifetime: Duration, now: Date,
        backdate: TimeInterval = CertificateAuthority.clockSlack, keyProtection: KeyProtection = .software,
        endorsementFingerprint: String? = nil
    ) throws -> Certificate {
        let name = String(hostname.prefix(64))
        return try issueClientCertificate(
            uri: DeviceIdentity(trustDomain: trustDomain, deviceID: deviceID).uri, organization: "Posture device",
            commonName: name.isEmpty ? deviceID : name, publicKey: publicKey, lifetime: lifetime, now: now,
            backdate: backdate,
            keyProtection: Self.keyProtectionExtension(keyProtection, endorsementFingerprint: endorsementFingerprint))
    }

    /// A device certificate's non-critical Posture key-protection extension (under 2.25, the arc anyone may
    /// use without registration): a UTF8String,
    /// `software`, or `tpm ek-sha256=<hex>` (the endorsement certificate's SHA-256). A relying party reads
    /// where the key lives from the certificate alone (`openssl x509 -text` shows it).
    public static let keyProtectionOID: ASN1ObjectIdentifier = [2, 25, 2_418_163_901_314_430_718]

    static func keyProtectionExtension(_ protection: KeyProtection, endorsementFingerprint: String?) throws
        -> Certificate.Extension
    {
        var text = protection.rawValue
        if let endorsementFingerprint { text += " ek-sha256=\(endorsementFingerprint)" }
        var serializer = DER.Serializer()
        try serializer.serialize(ASN1UTF8String(text))
        return Certificate.Extension(oid: keyProtectionOID, critical: false, value: serializer.serializedBytes[...])
    }

    /// A client certificate for a policy engine on the API listener: `spiffe://<td>/api-client/<id>`; its
    /// scopes are stored with `id`, so revoking the API token revokes the certificate.
    public func issueAPIClientCertificate(
        clientID: String, name: String, publicKey: P256.Signing.PublicKey, lifetime: Duration, now: Date
    ) throws -> Certificate {
        try issueClientCertificate(
            uri: "spiffe://\(trustDomain)/api-client/\(clientID)", organization: "Posture API client",
            commonName: String(name.prefix(64)), publicKey: publicKey, lifetime: lifetime, now: now,
            // Used at once by another host's TLS stack: a minute of slack for clocks and whole seconds.
            backdate: 60)
    }

    private func issueClientCertificate(
        uri: String, organization: String, commonName: String, publicKey: P256.Signing.PublicKey,
        lifetime: Duration, now: Date, backdate: TimeInterval = 0, keyProtection: Certificate.Extension? = nil
    ) throws -> Certificate {
        let key = Certificate.PublicKey(publicKey)
        return try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: key,
            notValidBefore: now.addingTimeInterval(-backdate), notValidAfter: now.addingTimeInterval(seconds(lifetime)),
            issuer: certificate.subject,
            subject: try DistinguishedName {
                OrganizationName(organization)
                CommonName(commonName)
            },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.clientAuth])
                SubjectAlternativeNames([.uniformResourceIdentifier(uri)])
                SubjectKeyIdentifier(hash: key)
                AuthorityKeyIdentifier(keyIdentifier: try authorityKeyIdentifier())
                if let keyProtection { keyProtection }
            },
            issuerPrivateKey: privateKey)
    }

    /// The collector's TLS server certificate for `names` (DNS names and IP addresses).
    public func issueServerCertificate(
        names: [String], publicKey: P256.Signing.PublicKey, lifetime: Duration = .seconds(30 * 86400), now: Date
    ) throws -> Certificate {
        let key = Certificate.PublicKey(publicKey)
        let sans: [GeneralName] = names.map { name in
            if let address = IPAddressBytes(name) {
                return .ipAddress(ASN1OctetString(contentBytes: address.bytes[...]))
            }
            return .dnsName(name)
        }
        return try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: key,
            notValidBefore: now.addingTimeInterval(-Self.clockSlack),
            notValidAfter: now.addingTimeInterval(Double(lifetime.components.seconds)),
            issuer: certificate.subject,
            subject: try DistinguishedName {
                OrganizationName("Posture")
                CommonName(names.first ?? "posture-collector")
            },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(sans)
                AuthorityKeyIdentifier(keyIdentifier: try authorityKeyIdentifier())
            },
            issuerPrivateKey: privateKey)
    }

    private func authorityKeyIdentifier() throws -> ArraySlice<UInt8> {
        if let identifier = try certificate.extensions.subjectKeyIdentifier { return identifier.keyIdentifier }
        return SubjectKeyIdentifier(hash: certificate.publicKey).keyIdentifier
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// An IPv4 or IPv6 literal as network-order bytes, for an IP SAN.
struct IPAddressBytes {
    var bytes: [UInt8]

    init?(_ text: String) {
        let v4 = text.split(separator: ".", omittingEmptySubsequences: false)
        if v4.count == 4, let octets = Optional(v4.compactMap { UInt8($0) }), octets.count == 4 {
            bytes = octets
            return
        }
        guard text.contains(":") else { return nil }
        // IPv6: expand "::" and read eight 16-bit groups.
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String) -> [UInt16]? {
            part.isEmpty
                ? []
                : part.split(separator: ":", omittingEmptySubsequences: false).map { UInt16($0, radix: 16) }
                    .reduce(into: [UInt16]?([])) { result, group in
                        if let group { result?.append(group) } else { result = nil }
                    }
        }
        guard let head = groups(halves[0]), let tail = halves.count == 2 ? groups(halves[1]) : [] else { return nil }
        let missing = 8 - head.count - tail.count
        guard (halves.count == 2 && missing >= 0) || (halves.count == 1 && missing == 0) else { return nil }
        let all = head + Array(repeating: 0, count: missing) + tail
        bytes = all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }
}
