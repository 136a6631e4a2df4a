import Foundation
import PostureModel
import TestSupport
import Testing

/// Several real collectors on one real PostgreSQL database serve one fleet: a device enrolled on one
/// reports to another, in one sequence; a report accepted on one is a replay on the other; an operator's
/// action on one is in the audit trail that the other verifies.
@Suite(.serialized, .enabled(if: PostgresServer.missing == nil || Requirement.isCI, "needs PostgreSQL 15"))
struct SharedStoreTests {
    static func configuration(_ endpoint: PostgresServer.Endpoint, database: String) -> String {
        """
        storage:
          driver: postgresql
          url: postgresql://\(endpoint.username)@\(endpoint.host):\(endpoint.port)/\(database)?sslmode=disable
          connections: 4
        """
    }

    @Test func twoCollectorsOnOneDatabaseServeOneFleet() async throws {
        let (endpoint, database) = try await PostgresServer.shared.database("fleet")
        let configuration = Self.configuration(endpoint, database: database)
        let a = try CollectorHarness("shared-a", configuration: configuration)
        let b = try CollectorHarness("shared-b", configuration: configuration, identityFrom: a)
        let (state, deviceID) = try a.enrollAgent("agent")
        try Shell.run([
            CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "100ms", "--count", "2",
        ])

        // The same device now reports to the other collector: its sequence goes on there.
        let enrollmentFile = state + "/enrollment.json"
        let enrollment = try String(contentsOfFile: enrollmentFile, encoding: .utf8)
        try enrollment.replacingOccurrences(of: a.devicesURL, with: b.devicesURL)
            .write(toFile: enrollmentFile, atomically: true, encoding: .utf8)
        try Shell.run([
            CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "100ms", "--count", "2",
        ])
        #expect(try a.attestations(deviceID).map(\.sequence) == [1, 2, 3, 4])
        #expect(try b.attestations(deviceID).map(\.sequence) == [1, 2, 3, 4])

        // Report 4, accepted on B, presented to A by the device itself: already accepted, not stored twice.
        let captured = try #require(try b.attestations(deviceID).last)
        let replay = try DeviceClient(collector: a, state: state).post(captured.jws)
        #expect(replay.http == 409 && replay.code == "already_accepted", "\(replay)")
        #expect(try a.attestations(deviceID).count == 4)

        // An operator quarantines on B; A's audit trail holds it, and the one chain is intact.
        try b.command(["devices", "quarantine", deviceID, "--reason", "shared-store test"])
        let audit = try a.command(["audit", "verify"])
        #expect(audit.contains("intact"), "\(audit)")
        let shown = try a.command(["devices", "show", deviceID])
        #expect(shown.contains("\"attestations\" : 4"))
    }

    /// A fleet on the embedded store moves to PostgreSQL with `posture-collector migrate --from`: the
    /// collector that starts on the database with the same identity goes on taking the same device's reports.
    @Test func aSQLiteFleetMovesToPostgreSQLAndGoesOn() async throws {
        let embedded = try CollectorHarness("move-sqlite")
        let (state, deviceID) = try embedded.enrollAgent("agent")
        try Shell.run([
            CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "100ms", "--count", "2",
        ])
        try embedded.command(["devices", "quarantine", deviceID, "--reason", "before the move"])
        embedded.stop()

        let (endpoint, database) = try await PostgresServer.shared.database("moved")
        let shared = try CollectorHarness(
            "move-postgres", configuration: Self.configuration(endpoint, database: database), identityFrom: embedded)
        shared.stop()
        let output = try shared.command(["migrate", "--from", embedded.stateDirectory + "/collector.sqlite"])
        #expect(output.contains("audit trail intact"), "\(output)")
        try shared.start()
        let enrollmentFile = state + "/enrollment.json"
        let enrollment = try String(contentsOfFile: enrollmentFile, encoding: .utf8)
        try enrollment.replacingOccurrences(of: embedded.devicesURL, with: shared.devicesURL)
            .write(toFile: enrollmentFile, atomically: true, encoding: .utf8)
        try Shell.run([
            CollectorHarness.agentBinary, "run", "--state-dir", state, "--interval", "100ms", "--count", "1",
        ])
        #expect(try shared.attestations(deviceID).map(\.sequence) == [1, 2, 3])
        #expect(try shared.command(["audit", "verify"]).contains("intact"))
    }
}
