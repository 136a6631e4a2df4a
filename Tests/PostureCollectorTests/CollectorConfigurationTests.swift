import Foundation
import PostureCollector
import PostureModel
import TestSupport
import Testing

@Suite struct CollectorConfigurationTests {
    @Test func theShippedFileIsValidAndStatesTheDefaults() throws {
        let path = Paths.packageRoot.appendingPathComponent("etc/posture/collector.yaml").path
        let shipped = try CollectorConfiguration.load(path: path, required: true)
        #expect(shipped == CollectorConfiguration())
    }

    @Test func aMissingDefaultFileMeansDefaultsButAMissingGivenFileIsAnError() throws {
        #expect(
            try CollectorConfiguration.load(path: "/nonexistent/collector.yaml", required: false)
                == CollectorConfiguration())
        #expect(throws: CollectorError.self) {
            try CollectorConfiguration.load(path: "/nonexistent/collector.yaml", required: true)
        }
    }

    @Test func valuesAreRead() throws {
        let configuration = try CollectorConfiguration.parse(
            """
            trustDomain: fleet.example.com
            listen:
              devices: "[::1]:9444"
            attestations:
              skew: 30s
              maxBodyBytes: 4096
            storage:
              keepAttestations: 7d
            """, file: "test.yaml")
        #expect(configuration.trustDomain == "fleet.example.com")
        #expect(configuration.listen.devices == "[::1]:9444")
        #expect(configuration.listen.enrollment == "127.0.0.1:8443")
        #expect(configuration.attestations.skew.duration == .seconds(30))
        #expect(configuration.attestations.maxBodyBytes == 4096)
        #expect(configuration.storage.keepAttestations.duration == .seconds(7 * 86400))
        #expect(configuration.storage.keepExpiredCertificates.duration == .seconds(30 * 86400))
    }

    @Test func retentionNeverCutsIntoThePolicysSignalWindow() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        var storage = CollectorConfiguration.Storage()
        storage.keepAttestations = try #require(DurationText("2d"))
        let short = HistoryRetention.cutoffs(now: now, storage: storage, signalWindow: .seconds(3600))
        #expect(short.attestations == now.addingTimeInterval(-2 * 86400))
        #expect(short.certificates == now.addingTimeInterval(-30 * 86400))
        #expect(short.nonces == short.attestations)
        // A rule counting journal events over 7 days needs 7 days of attestations, whatever is configured.
        let long = HistoryRetention.cutoffs(now: now, storage: storage, signalWindow: .seconds(7 * 86400))
        #expect(long.attestations == now.addingTimeInterval(-7 * 86400))
    }

    @Test(arguments: [
        ("attestations:\n  skw: 5m\n", ":2: unknown key 'attestations.skw'"),
        ("trustDomian: x\n", ":1: unknown key 'trustDomian'"),
        (
            "ssf:\n  accessTokens:\n    issuer: https://as\n    jwksURL: https://as/keys\n",
            ":4: unknown key 'ssf.accessTokens.jwksURL'"
        ),
        ("ssf:\n  accessTokens:\n    issuer: https://as\n", "key ssf.accessTokens.jwksURI: missing"),
        ("attestations:\n  skew: soon\n", "key attestations.skew: 'soon' is not a duration"),
        ("listen:\n  devices: localhost\n", "listen.devices 'localhost' is not host:port"),
        ("ca:\n  certificate: /x.crt\n", "ca.certificate and ca.key are set together"),
        ("storage:\n  driver: mysql\n", "storage.driver 'mysql' is not supported"),
        ("storage:\n  keepAttestations: 1h\n", "storage.keepAttestations '1h' is less than a day"),
        ("trustDomain: [1, 2]\n", "key trustDomain"),
        ("listen: [\n", "not valid YAML"),
    ])
    func mistakesNameTheFileTheLineAndTheKey(yaml: String, expected: String) {
        do {
            _ = try CollectorConfiguration.parse(yaml, file: "/etc/posture/collector.yaml")
            Issue.record("accepted: \(yaml)")
        } catch {
            let message = "\(error)"
            #expect(message.hasPrefix("/etc/posture/collector.yaml"), "\(message)")
            #expect(message.contains(expected), "\(message)")
        }
    }
}
