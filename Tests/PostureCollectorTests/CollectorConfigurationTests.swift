import Foundation
import PostureCollector
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
            """, file: "test.yaml")
        #expect(configuration.trustDomain == "fleet.example.com")
        #expect(configuration.listen.devices == "[::1]:9444")
        #expect(configuration.listen.enrollment == "127.0.0.1:8443")
        #expect(configuration.attestations.skew.duration == .seconds(30))
        #expect(configuration.attestations.maxBodyBytes == 4096)
    }

    @Test(arguments: [
        ("attestations:\n  skw: 5m\n", ":2: unknown key 'attestations.skw'"),
        ("trustDomian: x\n", ":1: unknown key 'trustDomian'"),
        ("attestations:\n  skew: soon\n", "key attestations.skew: 'soon' is not a duration"),
        ("listen:\n  devices: localhost\n", "listen.devices 'localhost' is not host:port"),
        ("ca:\n  certificate: /x.crt\n", "ca.certificate and ca.key are set together"),
        ("storage:\n  driver: mysql\n", "storage.driver 'mysql' is not supported"),
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
