import Foundation
import TestSupport
import Testing

/// Three real collectors on one PostgreSQL database behind HAProxy (TCP mode: mutual TLS passes through
/// to the collectors), with 20 real agents reporting through it; one collector is killed with SIGKILL
/// mid-stream and started again later.
@Suite(
    .serialized,
    .enabled(
        if: (PostgresServer.missing == nil && Shell.has("/usr/sbin/haproxy")) || Requirement.isCI,
        "needs PostgreSQL 15 and haproxy"))
struct LoadBalancedFleetTests {
    /// HAProxy in front of the collectors: one frontend per listener, round robin, health-checked every
    /// 500 ms, a connection to a dead collector sent to another (`redispatch`).
    final class Balancer: @unchecked Sendable {
        let enrollmentPort: Int
        let devicesPort: Int
        let apiPort: Int
        let process: BackgroundProcess

        init(_ collectors: [CollectorHarness], directory: URL, devicesPort: Int) throws {
            enrollmentPort = try freeLoopbackPort()
            self.devicesPort = devicesPort
            apiPort = try freeLoopbackPort()
            func section(_ name: String, _ port: Int, _ backend: (CollectorHarness) -> Int) -> String {
                """
                frontend \(name)
                    bind 127.0.0.1:\(port)
                    default_backend \(name)
                backend \(name)
                    balance roundrobin
                \(collectors.enumerated().map { "    server c\($0.offset + 1) 127.0.0.1:\(backend($0.element)) check inter 500ms fall 1 rise 1" }.joined(separator: "\n"))

                """
            }
            let configuration = """
                global
                    maxconn 4096
                defaults
                    mode tcp
                    timeout connect 1s
                    timeout client 120s
                    timeout server 120s
                    retries 2
                    option redispatch

                """ + section("enrollment", enrollmentPort, \.enrollmentPort)
                + section("devices", devicesPort, \.devicesPort)
                + section("api", apiPort, \.apiPort)
            let path = directory.appendingPathComponent("haproxy.cfg").path
            try configuration.write(toFile: path, atomically: true, encoding: .utf8)
            process = try BackgroundProcess(
                ["/usr/sbin/haproxy", "-db", "-f", path], logPath: directory.appendingPathComponent("haproxy.log").path)
            Thread.sleep(forTimeInterval: 0.5)
        }

        deinit { process.signal(SIGKILL) }
    }

    @Test func twentyAgentsThroughHAProxyLoseNothingWhenACollectorIsKilled() async throws {
        let (endpoint, database) = try await PostgresServer.shared.database("balanced")
        // Ports for the balancer first: the collectors tell agents to report to it.
        let directory = try Paths.temporaryDirectory("balanced")
        let devicesPort = try freeLoopbackPort()
        let configuration =
            SharedStoreTests.configuration(endpoint, database: database)
            + "\ndevicesURL: https://127.0.0.1:\(devicesPort)\n"
        let first = try CollectorHarness("balanced-1", configuration: configuration)
        let collectors = [
            first, try CollectorHarness("balanced-2", configuration: configuration, identityFrom: first),
            try CollectorHarness("balanced-3", configuration: configuration, identityFrom: first),
        ]
        let balancer = try Balancer(collectors, directory: directory, devicesPort: devicesPort)
        _ = balancer

        var agents: [(state: String, deviceID: String, process: BackgroundProcess)] = []
        defer { for agent in agents { agent.process.signal(SIGKILL) } }
        for index in 0..<20 {
            let (state, deviceID) = try first.enrollAgent(
                "agent\(index)", through: "https://127.0.0.1:\(balancer.enrollmentPort)")
            let process = try BackgroundProcess(
                [CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "1s"],
                logPath: directory.appendingPathComponent("agent\(index).log").path)
            agents.append((state, deviceID, process))
        }
        func stored(_ deviceID: String) -> [UInt64] {
            (try? collectors[0].attestations(deviceID).map(\.sequence)) ?? []
        }
        #expect(BackgroundProcess.eventually(timeout: 60) { agents.allSatisfy { stored($0.deviceID).count >= 2 } })

        collectors[1].kill9()
        try await Task.sleep(for: .seconds(4))
        try collectors[1].start()
        try await Task.sleep(for: .seconds(3))
        for agent in agents { agent.process.signal(SIGTERM) }
        for agent in agents { _ = agent.process.wait(timeout: 15) }

        // Every report each agent signed is stored once, in order, or still in its spool.
        for agent in agents {
            let sequences = stored(agent.deviceID)
            let signed =
                UInt64(
                    (try String(contentsOfFile: agent.state + "/sequence", encoding: .utf8))
                        .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            let spooled = try FileManager.default.contentsOfDirectory(atPath: agent.state + "/spool")
                .filter { $0.hasSuffix(".json") && UInt64($0.dropLast(5)) != nil }.count
            #expect(sequences == (0..<sequences.count).map { UInt64($0 + 1) }, "\(agent.deviceID): \(sequences)")
            #expect(
                UInt64(sequences.count + spooled) == signed,
                "\(agent.deviceID): \(sequences) + \(spooled) spooled, signed \(signed)")
            let rejected = (try? FileManager.default.contentsOfDirectory(atPath: agent.state + "/spool/rejected")) ?? []
            #expect(rejected.isEmpty, "\(agent.deviceID): set aside \(rejected)")
        }
        let total = agents.reduce(0) { $0 + stored($1.deviceID).count }
        print("20 agents through HAProxy, collector 2 killed and restarted: \(total) reports stored, each once")
        #expect(try collectors[2].command(["audit", "verify"]).contains("intact"))
    }
}
