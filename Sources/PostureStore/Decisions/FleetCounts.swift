/// What the fleet summary counts for one device: its verdict, its OS, whether it is quarantined, each
/// rule it fails. Only active devices count.
public struct FleetEntry: Sendable, Equatable {
    public var state: String
    public var verdict: String
    public var os: String
    public var osVersion: String
    public var quarantined: Bool
    public var failing: Set<String>

    public init(
        state: String, verdict: String = "none", os: String = "", osVersion: String = "", quarantined: Bool = false,
        failing: Set<String> = []
    ) {
        self.state = state
        self.verdict = verdict
        self.os = os
        self.osVersion = osVersion
        self.quarantined = quarantined
        self.failing = failing
    }

    /// The (dimension, key) rows of `fleet_counts` this entry adds to.
    public var counts: [FleetCountKey: Int] {
        guard state == "active" else { return [:] }
        var counts: [FleetCountKey: Int] = [
            FleetCountKey("verdict", verdict): 1,
            FleetCountKey("os", "\(os) \(osVersion)".trimmingSpaces): 1,
            FleetCountKey("quarantined", "yes"): quarantined ? 1 : 0,
        ]
        for rule in failing { counts[FleetCountKey("rule", rule)] = 1 }
        return counts
    }

    /// What changing `old` into `new` adds to each count (zero changes left out), in key order, so that
    /// concurrent writers lock count rows in one order and cannot deadlock.
    public static func delta(from old: FleetEntry?, to new: FleetEntry?) -> [(key: FleetCountKey, change: Int)] {
        var change = new?.counts ?? [:]
        for (key, count) in old?.counts ?? [:] { change[key, default: 0] -= count }
        return change.filter { $0.value != 0 }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}

public struct FleetCountKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var dimension: String
    public var key: String

    public init(_ dimension: String, _ key: String) {
        self.dimension = dimension
        self.key = key
    }

    public static func < (lhs: FleetCountKey, rhs: FleetCountKey) -> Bool {
        (lhs.dimension, lhs.key) < (rhs.dimension, rhs.key)
    }

    public var description: String { "\(dimension)=\(key)" }
}

extension String {
    var trimmingSpaces: String {
        var text = Substring(self)
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return String(text)
    }
}
