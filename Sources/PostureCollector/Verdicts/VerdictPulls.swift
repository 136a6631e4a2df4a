import Logging
import PostureStore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// When a policy engine last pulled each device's verdict (`GET /v1/devices/ID/verdict`), for the maturity
/// stages: kept in the store, so every collector of a fleet sees the pulls the others answered, and written
/// at most once per device per `interval`, because policy engines long-poll.
actor VerdictPulls {
    static let interval: Double = 300

    private let store: any PostureStore
    private let logger: Logger
    /// The last write per device; at most one entry per device that exists (the route resolves it first).
    private var written: [String: Date] = [:]

    init(store: any PostureStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    func record(_ id: String, at now: Date = Date()) async {
        if let last = written[id], now.timeIntervalSince(last) < Self.interval, now >= last { return }
        written[id] = now
        do {
            try await store.recordVerdictPull(deviceID: id, at: now)
        } catch {
            // Evidence for the maturity stage only: the verdict is still served.
            logger.warning(
                "cannot record a verdict pull", metadata: ["posture.device": "\(id)", "posture.error": "\(error)"])
        }
    }
}
