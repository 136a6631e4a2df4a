import Foundation
import PostureModel
import PostureStore
import Testing

@testable import PostureCollector

/// A device asking for access in a loop is refused before anything more is stored.
@Suite struct AccessRateTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func events(_ count: Int, every seconds: TimeInterval) -> [AccessEvent] {
        (0..<count).map { index in
            AccessEvent(
                at: now.addingTimeInterval(-Double(index) * seconds), deviceID: "d", user: "bob", grant: "g",
                event: "sudo-refused", actor: "device:d", detail: "not-admitted")
        }
    }

    @Test func aUsersEventsOfTheHourUpToTheLimitPassAndAtItAreRefused() {
        let limit = CollectorCore.maxAccessEventsPerHour
        #expect(CollectorCore.rateRefusal(events(limit - 1, every: 1), user: "bob", now: now) == nil)
        let refusal = CollectorCore.rateRefusal(events(limit, every: 1), user: "bob", now: now)
        #expect(refusal?.code == .accessRefused)
        #expect(refusal?.message.hasPrefix("bad-request: bob made \(limit) access requests") == true)
        // Another user of the device is not held back by bob's loop.
        #expect(CollectorCore.rateRefusal(events(limit, every: 1), user: "alice", now: now) == nil)
        // Spread over more than an hour: the oldest no longer count.
        let spread = events(limit, every: 3600.0 / Double(limit - 1) + 1)
        #expect(CollectorCore.rateRefusal(spread, user: "bob", now: now) == nil)
    }
}
