#if DEBUG
    import Crypto
    import Foundation
    import PostureAgent
    import PostureModel

    /// `posture-fuzz --make-seeds REPORT.json OUTDIR`: the seeds that need this code's keys and signatures (a
    /// signed attestation, a verdict JWT, an enrollment request with the agent's CSR), made with the same
    /// fixed keys the targets verify under (Tests/Fuzz/make-corpus.sh).
    enum SeedMaker {
        struct Failure: Error, CustomStringConvertible {
            var description: String
        }

        static func write(reportPath: String, into directory: String) throws {
            guard let reportJSON = FileManager.default.contents(atPath: reportPath) else {
                throw Failure(description: "cannot read \(reportPath)")
            }
            let report = try PostureReport.wireDecoder().decode(PostureReport.self, from: reportJSON)
            func save(_ target: String, _ name: String, _ bytes: Data) throws {
                let folder = directory + "/" + target
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                try bytes.write(to: URL(fileURLWithPath: folder + "/" + name))
            }

            // An attestation exactly as the agent signs it, accepted by the jws target's verifier.
            let payload = AttestationPayload(
                deviceID: Fixtures.deviceID, sequence: 7,
                issuedAt: Fixtures.now, nonce: "bm9uY2Utb2YtdGhlLWZ1enotY29sbGVjdG9y",
                spoolGap: SpoolGap(firstSequence: 3, lastSequence: 5, count: 3), report: report)
            let payloadJSON = try PostureReport.wireEncoder().encode(payload)
            let jws = try CompactJWS.sign(payload: payloadJSON, with: SoftwareSigningKey(Fixtures.deviceKey))
            try save("jws", "attestation.jws", Data(jws.compact.utf8))
            // Schema 2: the signed envelope and the two parts it names by digest, three lines.
            let detached = try DetachedAttestation.sign(payload, with: SoftwareSigningKey(Fixtures.deviceKey))
            try save("jws", "attestation-v2", Data(detached.body.utf8))
            try save("attestation", "payload.json", payloadJSON)
            try save("dashboard", "payload.json", payloadJSON)
            try save("attestation", "report.json", try PostureReport.wireEncoder().encode(report))

            // A verdict JWT as the collector signs it (SigningKeys.sign, VerdictClaims).
            let claims: [String: Any] = [
                "iss": "https://collector.posture.fuzz", "aud": VerdictClaims.audience, "sub": Fixtures.deviceID,
                "iat": Int(Fixtures.now.timeIntervalSince1970), "nbf": Int(Fixtures.now.timeIntervalSince1970),
                "exp": Int(Fixtures.now.timeIntervalSince1970) + 300, "jti": "1", "status": "noncompliant",
                "failing_rules": ["disk-encrypted"], "unknown": ["journal-risk"], "risk": 40, "policy": "builtin",
                "verdict_version": "v1", "quarantine": "stolen",
                "device": [
                    "id": Fixtures.deviceID, "spiffe_id": "spiffe://posture.fuzz/device/\(Fixtures.deviceID)",
                    "machine_id": Fixtures.machineID, "hostname": "host-1",
                ],
            ]
            let claimsJSON = try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys])
            let header = #"{"alg":"ES256","kid":"\#(Fixtures.verdictKeyID)","typ":"\#(VerdictClaims.type)"}"#
            let input = Base64URL.encode(Data(header.utf8)) + "." + Base64URL.encode(claimsJSON)
            let signature = try Fixtures.verdictKey.signature(for: Data(input.utf8)).rawRepresentation
            let jwt = input + "." + Base64URL.encode(signature)
            try save("verdict-jwt", "verdict.jwt", Data(jwt.utf8))
            try save("verdict-jwt", "verdict-with-jwks", Data(jwt.utf8) + Data([0]) + Data(Fixtures.verdictJWKS.utf8))

            // The agent's enrollment request: its CSR code, the fixed device key.
            let csr = try DeviceKeyFile.csr(for: SoftwareSigningKey(Fixtures.deviceKey), hostname: "host-1")
            let request = EnrollmentRequest(
                token: "pt_fuzz", csr: csr, machineID: Fixtures.machineID, hostname: "host-1")
            try save("enroll", "request.json", try PostureReport.wireEncoder().encode(request))
            try save("enroll", "csr.pem", Data(csr.utf8))
        }
    }
#endif
