import Foundation
import PostureModel
import PostureStore
import Testing

@testable import PostureCollector

/// The signal history a device's entry keeps for the risk baseline: merged by the hour past the counting
/// windows once it is long, every count kept, the window's own samples untouched.
@Suite struct SignalHistoryTests {
    @Test func aLongHistoryIsMergedByTheHourOutsideTheWindowAndLosesNoCount() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        var entry = VerdictService.Entry(
            DeviceRecord(
                id: "d", machineID: String(repeating: "a", count: 32), hostname: "h", labels: [:], status: .active,
                enrolledAt: now.addingTimeInterval(-30 * 86400), keyThumbprint: "k"))
        // A sample a minute for 28 days before the last hour, and three in the last hour.
        let old = stride(from: 28.0 * 86400, to: 3600, by: -60).map {
            SignalSample(at: now.addingTimeInterval(-$0), counts: [.sshAuthFailure: 2])
        }
        let recent = [1800.0, 600, 60].map {
            SignalSample(at: now.addingTimeInterval(-$0), counts: [.sshAuthFailure: 5])
        }
        entry.signals = old + recent
        let total = entry.signals.reduce(0) { $0 + ($1.counts[.sshAuthFailure] ?? 0) }
        entry.coalesceSignals(before: now.addingTimeInterval(-3600))
        #expect(entry.signals.count <= 28 * 24 + 1 + 3, "\(entry.signals.count)")
        #expect(entry.signals.reduce(0) { $0 + ($1.counts[.sshAuthFailure] ?? 0) } == total)
        #expect(Array(entry.signals.suffix(3)) == recent)
        #expect(zip(entry.signals, entry.signals.dropFirst()).allSatisfy { $0.at <= $1.at })
        // A short history is left as it is.
        entry.signals = recent
        entry.coalesceSignals(before: now)
        #expect(entry.signals == recent)
    }
}
