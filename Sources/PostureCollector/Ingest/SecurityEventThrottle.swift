import NIOConcurrencyHelpers

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Refusals are recorded as security events and logged, but a client sending garbage in a loop must not
/// grow the store without bound or flood the journal: per source (the device, else the peer's address
/// without its port) and code, the first refusal of each window is recorded, the rest only counted, and
/// the count rides on the next one recorded ("and 4,120 more like it"). A collector failure (storage) is
/// logged once per cause per window the same way.
final class SecurityEventThrottle: Sendable {
    struct Decision: Equatable {
        /// Record (store and log) this one.
        var record: Bool
        /// Refusals like it left out since the last one recorded.
        var suppressed: Int
    }

    private struct Window {
        var start: Date
        var suppressed: Int
    }

    let window: TimeInterval
    /// Distinct sources tracked at once; beyond, new sources share one window (a spray of addresses).
    let maxSources: Int
    private let windows = NIOLockedValueBox<[String: Window]>([:])

    init(window: TimeInterval = 60, maxSources: Int = 10_000) {
        self.window = window
        self.maxSources = maxSources
    }

    /// The key of a refusal: who (device ID, else address without port) and what (the code).
    static func key(code: String, deviceID: String?, peer: String?) -> String {
        if let deviceID { return "device \(deviceID) \(code)" }
        return "address \(peer.map(address) ?? "-") \(code)"
    }

    /// NIO's `[IPv4]127.0.0.1/127.0.0.1:54321` or `[IPv6]::1/::1:54321` to the address alone: a client
    /// reconnecting from new ports is one source.
    static func address(_ peer: String) -> String {
        var text = Substring(peer)
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") { text = text[text.index(after: close)...] }
        if let slash = text.lastIndex(of: "/") { text = text[text.index(after: slash)...] }
        if let colon = text.lastIndex(of: ":"), !text[text.index(after: colon)...].isEmpty,
            text[text.index(after: colon)...].allSatisfy(\.isNumber)
        {
            text = text[..<colon]
        }
        return String(text)
    }

    func admit(_ key: String, now: Date = Date()) -> Decision {
        windows.withLockedValue { windows in
            var key = key
            if windows[key] == nil, windows.count >= maxSources {
                windows = windows.filter { now.timeIntervalSince($0.value.start) < window }
                if windows.count >= maxSources { key = "overflow: more than \(maxSources) sources" }
            }
            guard var current = windows[key], now.timeIntervalSince(current.start) < window else {
                let suppressed = windows[key]?.suppressed ?? 0
                windows[key] = Window(start: now, suppressed: 0)
                return Decision(record: true, suppressed: suppressed)
            }
            current.suppressed += 1
            windows[key] = current
            return Decision(record: false, suppressed: current.suppressed)
        }
    }
}
