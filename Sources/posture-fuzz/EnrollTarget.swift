#if DEBUG
    import Crypto
    import Foundation
    @testable import PostureCollector
    import PostureModel
    import X509

    /// `POST /v1/enroll`'s body: decoded as the route does, then the collector's checks before it touches the
    /// store (CollectorCore.enroll): machine-id(5) form, hostname length and control characters, the CSR (PEM
    /// PKCS#10, self-signature, P-256), then issuing the device certificate from a fixed CA and writing it as
    /// PEM. CollectorCore.enroll itself needs a store and an actor, so its two guards are repeated here.
    enum EnrollTarget {
        static let authority: CertificateAuthority = {
            do {
                let name = try DistinguishedName {
                    OrganizationName("Posture")
                    CommonName("Posture device CA (\(Fixtures.trustDomain))")
                }
                let publicKey = Certificate.PublicKey(Fixtures.caKey.publicKey)
                let certificate = try Certificate(
                    version: .v3, serialNumber: Certificate.SerialNumber(bytes: [1]), publicKey: publicKey,
                    notValidBefore: Fixtures.now.addingTimeInterval(-3600),
                    notValidAfter: Fixtures.now.addingTimeInterval(10 * 365 * 86400),
                    issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
                    extensions: try Certificate.Extensions {
                        Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                        Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                        SubjectKeyIdentifier(hash: publicKey)
                    },
                    issuerPrivateKey: Certificate.PrivateKey(Fixtures.caKey))
                return CertificateAuthority(
                    certificate: certificate, privateKey: Certificate.PrivateKey(Fixtures.caKey),
                    trustDomain: Fixtures.trustDomain, fleetSecret: Array(Fixtures.caKey.rawRepresentation))
            } catch {
                fatalError("cannot make the fuzz CA: \(error)")
            }
        }()

        static func run(_ input: [UInt8]) -> String {
            let request: EnrollmentRequest
            if let decoded = try? PostureReport.wireDecoder().decode(EnrollmentRequest.self, from: Data(input)) {
                request = decoded
            } else {
                // Not JSON: the bytes as the CSR of an otherwise valid request, so the PEM/DER parser sees them.
                request = EnrollmentRequest(
                    token: "t", csr: String(decoding: input, as: UTF8.self), machineID: Fixtures.machineID,
                    hostname: "host")
            }
            _ = EnrollmentTokens.hash(request.token)
            _ = try? CertificateSigningRequest(pemEncoded: request.csr)
            // CollectorCore.enroll's guards, in its order.
            guard DeviceIdentity.isMachineID(request.machineID) else { return "refused: machineID" }
            guard request.hostname.utf8.count <= 253,
                !request.hostname.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
            else { return "refused: hostname" }
            let key: P256.Signing.PublicKey
            do {
                key = try CertificateAuthority.devicePublicKey(fromCSR: request.csr)
            } catch {
                return "refused: \(error.code)"
            }
            let deviceID = Fixtures.deviceID
            guard
                let certificate = try? authority.issueDeviceCertificate(
                    deviceID: deviceID, publicKey: key, hostname: request.hostname, lifetime: .seconds(86400),
                    now: Fixtures.now)
            else { return "issuance failed" }
            _ = try? certificate.serializeAsPEM().pemString
            _ = KeyThumbprint(key).value
            _ = DeviceIdentity(certificate: certificate)
            return "certificate issued"
        }
    }
#endif
