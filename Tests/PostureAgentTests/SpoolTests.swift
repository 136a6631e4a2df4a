import Foundation
import PostureAgent
import PostureModel
import TestSupport
import Testing

/// The spool on a real directory: order, bound, gap accounting, what a restart finds.
@Suite struct SpoolTests {
    let directory: String

    init() throws {
        directory = try Paths.temporaryDirectory("spool").path
    }

    func entry(_ sequence: UInt64, gap: SpoolGap? = nil) throws -> Spool.Entry {
        let report = try PostureReport.makeDecoder().decode(
            PostureReport.self, from: Data(try String(contentsOf: Self.sampleReport, encoding: .utf8).utf8))
        let payload = AttestationPayload(
            deviceID: "d", sequence: sequence, issuedAt: Date(timeIntervalSince1970: 1_800_000_000), nonce: "n",
            spoolGap: gap, report: report)
        return Spool.Entry(payload: payload, jws: "jws-\(sequence)", journalCursor: "cursor-\(sequence)")
    }

    /// A report as `postured probe --format json` writes it, made once by the test run.
    static let sampleReport: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("posture-sample-\(getpid()).json")
        let output = try? Shell.run([
            Paths.executable("postured"), "probe", "--format", "json", "--root", "/nonexistent",
        ])
        try? output?.stdout.write(to: url, atomically: true, encoding: .utf8)
        return url
    }()

    @Test func entriesComeBackOldestFirstAcrossReopening() throws {
        let spool = Spool(directory: directory, capacity: 100)
        for sequence in [3, 1, 2, 10] as [UInt64] { try spool.append(try entry(sequence)) }
        let reopened = Spool(directory: directory, capacity: 100)
        #expect(try reopened.sequences() == [1, 2, 3, 10])
        #expect(try reopened.entry(10)?.journalCursor == "cursor-10")
        #expect(try reopened.entry(2)?.payload.sequence == 2)
        try reopened.remove(1)
        #expect(try reopened.sequences() == [2, 3, 10])
        let mode = try FileManager.default.attributesOfItem(atPath: directory + "/00000000000000000002.json")[
            .posixPermissions]
        #expect(mode as? Int == 0o600)
    }

    @Test func pastItsBoundTheOldestAreDroppedAndTheGapIsCountedUntilDelivered() throws {
        let spool = Spool(directory: directory, capacity: 3)
        var dropped = 0
        for sequence in 1...5 as ClosedRange<UInt64> { dropped += try spool.append(try entry(sequence)) }
        #expect(dropped == 2)
        #expect(try spool.sequences() == [3, 4, 5])
        let gap = try #require(try spool.gap())
        #expect(gap == SpoolGap(firstSequence: 1, lastSequence: 2, count: 2))
        try spool.append(try entry(6))
        #expect(try spool.gap() == SpoolGap(firstSequence: 1, lastSequence: 3, count: 3))
        // Only the delivery of a report that carried the current gap clears it.
        try spool.clearGap(ifEqualTo: gap)
        #expect(try spool.gap() != nil)
        try spool.clearGap(ifEqualTo: SpoolGap(firstSequence: 1, lastSequence: 3, count: 3))
        #expect(try spool.gap() == nil)
    }

    @Test func aRejectedEntryIsKeptAsideNotLost() throws {
        let spool = Spool(directory: directory, capacity: 10)
        try spool.append(try entry(7))
        try spool.reject(7)
        #expect(try spool.sequences().isEmpty)
        #expect(FileManager.default.fileExists(atPath: directory + "/rejected/7.json"))
    }
}
