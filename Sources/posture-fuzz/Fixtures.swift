#if DEBUG
    import Crypto
    import Foundation
    @testable import PostureCollector
    import PostureModel
    import PostureVerdict

    /// Fixed keys, identities and clock: the same input always takes the same path.
    enum Fixtures {
        /// P-256 private scalars from fixed bytes (any value in [1, n-1] is a key).
        static func key(_ seed: UInt8) -> P256.Signing.PrivateKey {
            do {
                return try P256.Signing.PrivateKey(rawRepresentation: (0..<32).map { seed &+ UInt8($0) })
            } catch {
                fatalError("fixed key \(seed): \(error)")
            }
        }

        static let deviceKey = key(0x01)
        static let verdictKey = key(0x41)
        static let caKey = key(0x81)
        static let trustDomain = "posture.fuzz"
        static let deviceID = "6f1c2a7e-3b4d-4c5e-9f80-a1b2c3d4e5f6"
        static let machineID = "3d1219c7c4c5404aaa1f6d2a48adfda4"
        /// 2026-11-30T00:00:00Z: the issue time of the seed attestation and the collector's clock.
        static let now = Date(timeIntervalSince1970: 1_796_083_200)

        static let peer = PeerIdentity(
            identity: DeviceIdentity(trustDomain: trustDomain, deviceID: deviceID), publicKey: deviceKey.publicKey,
            serial: "1")

        /// The shipped policy, parsed once; the text is embedded (ShippedPolicy.swift) so the binary needs no files.
        static let policy: Policy = {
            do {
                return try PolicyParser.parse(shippedPolicyYAML, file: "etc/posture/policy.yaml")
            } catch {
                fatalError("the embedded shipped policy does not parse: \(error)")
            }
        }()

        /// A real report from `postured probe --format json` (BaseReport.swift).
        static let baseReport: PostureReport = {
            do {
                return try PostureReport.wireDecoder().decode(PostureReport.self, from: Data(baseReportJSON.utf8))
            } catch {
                fatalError("the embedded base report does not decode: \(error)")
            }
        }()

        /// The verdict JWKS the collector would hand an agent at enrollment (ES256 key only), as
        /// SigningKeys builds it: kid is the RFC 7638 thumbprint.
        static let verdictKeyID: String = {
            let raw = verdictKey.publicKey.rawRepresentation
            let x = Base64URL.encode(raw.prefix(32))
            let y = Base64URL.encode(raw.suffix(32))
            return Base64URL.encode(
                SHA256.hash(data: Data(#"{"crv":"P-256","kty":"EC","x":"\#(x)","y":"\#(y)"}"#.utf8)))
        }()

        static let verdictJWKS: String = {
            let raw = verdictKey.publicKey.rawRepresentation
            let x = Base64URL.encode(raw.prefix(32))
            let y = Base64URL.encode(raw.suffix(32))
            return
                #"{"keys":[{"kty":"EC","crv":"P-256","x":"\#(x)","y":"\#(y)","kid":"\#(verdictKeyID)","alg":"ES256","use":"sig"}]}"#
        }()

        /// Only payloads within the ingest limits go on to be rendered and evaluated when
        /// POSTURE_FUZZ_RESPECT_LIMITS=1: what is reachable through the collector's ingest. By default everything
        /// that decodes is (a stored report read back, `policy test --report`, the agent's own table).
        static let respectLimits = ProcessInfo.processInfo.environment["POSTURE_FUZZ_RESPECT_LIMITS"] == "1"
    }

    /// Everything that renders or evaluates a decoded report, as the collector and the agent do.
    enum ReportUse {
        @discardableResult
        static func exercise(_ report: PostureReport, issuedAt: Date, deviceID: String = Fixtures.deviceID)
            -> Verdict?
        {
            let withinLimits = (try? PayloadLimits.check(report)) != nil
            if Fixtures.respectLimits, !withinLimits { return nil }
            _ = ReportTable.render(report)
            // The collector's signal sample of one attestation (VerdictService).
            let signals = [SignalSample(at: issuedAt, counts: report.journal.value?.counts ?? [:])]
            let labels = ["team": "web", "class": "laptop"]
            let first = Fixtures.policy.evaluate(
                EvaluationInput(
                    deviceID: deviceID, labels: labels, report: report, reportIssuedAt: issuedAt, signals: signals,
                    now: issuedAt.addingTimeInterval(1)))
            // Later, with the first verdict as history, a waiver for its first failing rule and a quarantine.
            let waivers = first.failing.prefix(1).map {
                Waiver(
                    id: "w1", rule: $0.rule, deviceID: deviceID, label: nil, reason: "fuzz", by: "fuzz",
                    createdAt: issuedAt, expiresAt: issuedAt.addingTimeInterval(7200))
            }
            let later = Fixtures.policy.evaluate(
                EvaluationInput(
                    deviceID: deviceID, labels: labels, report: report, reportIssuedAt: issuedAt,
                    signals: signals + signals, quarantine: nil, waivers: waivers, previous: first,
                    now: issuedAt.addingTimeInterval(3600)))
            _ = Fixtures.policy.evaluate(
                EvaluationInput(
                    deviceID: deviceID, labels: [:], report: report, reportIssuedAt: issuedAt, signals: signals,
                    quarantine: Quarantine(by: "fuzz", reason: "fuzz", at: issuedAt), previous: later,
                    now: issuedAt.addingTimeInterval(86400)))
            // What the store writes: the verdict, canonically encoded (the report is stored as signed).
            _ = try? PostureReport.wireEncoder().encode(later)
            _ = later.version
            _ = later.failingSince
            return later
        }
    }
#endif
