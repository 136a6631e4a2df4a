import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A page of the device list: filters, a sort, and where the previous page ended.
public struct FleetQuery: Sendable {
    public enum Sort: String, Sendable, CaseIterable, Codable {
        case hostname
        case lastSeen = "last_seen"
        case enrolled
        case verdictSince = "verdict_since"
    }

    /// `compliant`, `noncompliant`, `unknown`, or `none` (no verdict yet).
    public var verdict: String?
    public var failingRule: String?
    public var label: (key: String, value: String)?
    /// os-release `ID` and `VERSION_ID` of the newest report.
    public var os: String?
    public var osVersion: String?
    public var seenBefore: Date?
    public var seenAfter: Date?
    /// A case-insensitive part of the hostname.
    public var hostname: String?
    /// Exactly this hostname.
    public var exactHostname: String?
    public var machineID: String?
    /// `active` (the default), `revoked`, `replaced`, or nil for all.
    public var state: String? = "active"
    public var sort: Sort = .hostname
    public var descending = false
    public var limit = 50
    public var after: FleetCursor?

    public init() {}
}

/// Where a page ended: the last row's sort value and ID. Opaque to clients (base64url JSON), and bound
/// to its sort so it cannot be replayed against another order.
public struct FleetCursor: Sendable, Equatable, Codable {
    public var sort: FleetQuery.Sort
    public var descending: Bool
    public var text: String?
    public var number: Double?
    public var id: String

    public var token: String {
        Base64URL.encode(Array((try? JSONEncoder().encode(self)) ?? Data()))
    }

    public init(sort: FleetQuery.Sort, descending: Bool, text: String?, number: Double?, id: String) {
        self.sort = sort
        self.descending = descending
        self.text = text
        self.number = number
        self.id = id
    }

    public init?(token: String) {
        guard let bytes = Base64URL.decode(token), let cursor = try? JSONDecoder().decode(FleetCursor.self, from: bytes)
        else { return nil }
        self = cursor
    }
}

/// One row of the device list: enough to answer "which, since when, why" without opening the device.
public struct FleetDevice: Sendable, Equatable, Codable {
    public var id: String
    public var hostname: String
    public var machineID: String
    public var labels: [String: String]
    public var state: String
    public var enrolledAt: Date
    /// Nil before the first evaluation.
    public var verdict: String?
    public var verdictSince: Date?
    public var failing: [String]
    public var quarantined: Bool
    public var os: String?
    public var osVersion: String?
    public var lastSeen: Date?
}

public struct FleetPage: Sendable, Equatable, Codable {
    public var devices: [FleetDevice]
    /// Pass back as `cursor` for the next page; nil on the last page.
    public var nextCursor: String?
}

public struct FleetSummary: Sendable, Equatable, Codable {
    public struct Count: Sendable, Equatable, Codable {
        public var key: String
        public var devices: Int
    }

    public struct Day: Sendable, Equatable, Codable {
        /// The UTC day, YYYY-MM-DD.
        public var day: String
        public var becameNoncompliant: Int
        public var becameCompliant: Int
    }

    public var devices: Int
    public var byVerdict: [String: Int]
    /// Most devices first.
    public var byFailingRule: [Count]
    /// "ID VERSION_ID", most devices first.
    public var byOS: [Count]
    public var quarantined: Int
    /// Active devices without a report in the last 24 hours.
    public var silent: Int
    /// Verdict changes per day, oldest first, the last 14 days.
    public var trend: [Day]
    public var generatedAt: Date
    /// Active devices per CISA maturity stage (`traditional`, `initial`, `advanced`, `optimal`), as the
    /// running collector judges them; nil from the store alone.
    public var byStage: [String: Int]? = nil
}

/// Security events (refused attestations, enforcement reports), newest first.
public struct SecurityEventQuery: Sendable, Equatable {
    public var deviceID: String?
    /// A code or a prefix ending in `.` or `*` (e.g. `enforcement.`).
    public var code: String?
    /// Events with an ID below this one (the previous page's last ID).
    public var before: Int64?
    public var limit = 100

    public init(deviceID: String? = nil, code: String? = nil, before: Int64? = nil, limit: Int = 100) {
        self.deviceID = deviceID
        self.code = code
        self.before = before
        self.limit = limit
    }
}
