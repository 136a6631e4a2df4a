import PostureModel

#if canImport(Glibc)
    import Glibc
#endif

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Risk that adapts (policy `risk.baseline`): each journal category's rate on a device is compared with
/// that device's own usual rate, an exponentially weighted one over its earlier events, and risk rises
/// when the last `risk.window` departs from it by more than `margin` times. A device's history starts at
/// enrollment: until it is long enough, the fleet's rate for devices with the same labels stands in for
/// the time before (as if the device had behaved like its peers), so a new device is judged against them.
public struct RiskBaseline: Sendable, Equatable {
    /// How fast the usual rate forgets: an event this long ago weighs half as much as one now.
    public var halfLife: Duration = .seconds(7 * 86400)
    /// A window rate above `margin` times the baseline departs from it.
    public var margin: Double = 5
    /// Events per hour a window must exceed at least: one event on a device that never had one is not
    /// an anomaly.
    public var floorPerHour: Double = 2
    /// Risk points per departing category.
    public var points = 20

    public init() {}

    /// How far back events still count (four half-lives: less than 7% of the weight is left beyond), at
    /// most 28 days (the store keeps 30 days of attestations by default).
    public var span: Duration { .seconds(Swift.min(4 * halfLife.seconds, 28 * 86400)) }

    /// Per category, events per hour as a device usually has them at `now`: its events before `windowStart`,
    /// exponentially weighted, plus the `fleet` rate for the part of the weight that predates `since`.
    public func usualRates(
        _ samples: [SignalSample], since: Date?, windowStart: Date, fleet: [JournalEventCategory: Double], now: Date
    ) -> [JournalEventCategory: Double] {
        let hours = halfLife.seconds / 3600
        let lambda = M_LN2 / hours
        var sums: [JournalEventCategory: Double] = [:]
        for sample in samples where sample.at <= windowStart {
            let weight = exp2(-Swift.max(0, now.timeIntervalSince(sample.at)) / halfLife.seconds)
            for (category, count) in sample.counts { sums[category, default: 0] += Double(count) * weight }
        }
        // The weight of the time before the device's history: what the fleet's rate fills.
        let before = since.map { exp2(-Swift.max(0, now.timeIntervalSince($0)) / halfLife.seconds) } ?? 1
        var rates: [JournalEventCategory: Double] = [:]
        for category in Set(sums.keys).union(fleet.keys) {
            rates[category] = lambda * (sums[category] ?? 0) + before * (fleet[category] ?? 0)
        }
        return rates
    }

    /// A device's own long-run rate per hour, its history's weight made whole (a device with a day of
    /// history counts as if that day went on): what the fleet's rate is averaged from.
    public func ownRates(_ samples: [SignalSample], since: Date, now: Date) -> [JournalEventCategory: Double] {
        let covered = 1 - exp2(-Swift.max(0, now.timeIntervalSince(since)) / halfLife.seconds)
        guard covered > 0 else { return [:] }
        return usualRates(samples, since: nil, windowStart: now, fleet: [:], now: now).mapValues { $0 / covered }
    }

    /// The fleet's rate per label set (`labelKey`): the median own rate of its devices with at least a
    /// half-life of history, or of every such device when no peer has; what a new device starts from. A
    /// median, so that one device reporting absurd counts cannot raise its peers' starting point.
    public func fleetRates(
        _ devices: [(labels: [String: String], samples: [SignalSample], since: Date)], now: Date
    ) -> FleetRates {
        var byLabels: [String: [[JournalEventCategory: Double]]] = [:]
        var all: [[JournalEventCategory: Double]] = []
        for device in devices where now.timeIntervalSince(device.since) >= halfLife.seconds {
            let own = ownRates(device.samples, since: device.since, now: now)
            byLabels[Self.labelKey(device.labels), default: []].append(own)
            all.append(own)
        }
        return FleetRates(byLabels: byLabels.mapValues(Self.median), all: Self.median(all))
    }

    /// Per category, the median over devices (a device without that category's events counts as 0).
    static func median(_ rates: [[JournalEventCategory: Double]]) -> [JournalEventCategory: Double] {
        var result: [JournalEventCategory: Double] = [:]
        for category in Set(rates.flatMap(\.keys)) {
            let sorted = rates.map { $0[category] ?? 0 }.sorted()
            let middle = sorted.count / 2
            let value = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
            if value > 0 { result[category] = value }
        }
        return result
    }

    static func labelKey(_ labels: [String: String]) -> String {
        labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }
}

/// The fleet's usual rates per hour, per label set and over every device with enough history.
public struct FleetRates: Sendable, Equatable {
    public var byLabels: [String: [JournalEventCategory: Double]]
    public var all: [JournalEventCategory: Double]

    public init(byLabels: [String: [JournalEventCategory: Double]] = [:], all: [JournalEventCategory: Double] = [:]) {
        self.byLabels = byLabels
        self.all = all
    }

    /// The rates a device with these labels starts from.
    public func rates(for labels: [String: String]) -> [JournalEventCategory: Double] {
        byLabels[RiskBaseline.labelKey(labels)] ?? all
    }
}
