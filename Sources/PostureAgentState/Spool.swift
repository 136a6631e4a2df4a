import PostureModel
import PostureSystem

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Signed reports waiting for the collector, one fsync'd file per sequence number, delivered oldest
/// first. Bounded: past `capacity` the oldest is dropped and the gap is recorded in `gap.json`, carried
/// by the next report until the collector accepted one that reports it.
public struct Spool: Sendable {
    public struct Entry: Codable, Sendable, Equatable {
        public var payload: AttestationPayload
        public var jws: String
        /// The journal cursor after this report's events: saved as accepted when the collector takes it.
        public var journalCursor: String?
        public var sequence: UInt64 { payload.sequence }

        public init(payload: AttestationPayload, jws: String, journalCursor: String?) {
            self.payload = payload
            self.jws = jws
            self.journalCursor = journalCursor
        }
    }

    public let directory: String
    public let capacity: Int

    public init(directory: String, capacity: Int) {
        self.directory = directory
        self.capacity = max(1, capacity)
    }

    /// Why delivery waits at the head of the spool (a clock-dependent refusal), for `postured status`.
    public struct Hold: Codable, Sendable, Equatable {
        public var sequence: UInt64
        public var code: AttestationRefusal.Code
        public var message: String
        public var since: Date

        public init(sequence: UInt64, code: AttestationRefusal.Code, message: String, since: Date) {
            self.sequence = sequence
            self.code = code
            self.message = message
            self.since = since
        }
    }

    private var gapPath: String { directory + "/gap.json" }
    private var holdPath: String { directory + "/held.json" }
    private func path(_ sequence: UInt64) -> String {
        let digits = String(sequence)
        return directory + "/" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".json"
    }

    /// Sequence numbers in the spool, oldest first.
    public func sequences() throws -> [UInt64] {
        try DurableFile.list(directory).compactMap { name in
            name.hasSuffix(".json") && name != "gap.json" ? UInt64(name.dropLast(5)) : nil
        }.sorted()
    }

    public func entry(_ sequence: UInt64) throws -> Entry? {
        guard let bytes = try DurableFile.read(path(sequence)) else { return nil }
        do {
            return try PostureReport.wireDecoder().decode(Entry.self, from: Data(bytes))
        } catch {
            throw AgentError(
                .stateDirectory, "spool entry \(path(sequence)) is corrupt (\(error)); move it out of the spool")
        }
    }

    /// Stores `entry`, dropping the oldest entries beyond the capacity. Returns how many were dropped.
    @discardableResult
    public func append(_ entry: Entry) throws -> Int {
        try DurableFile.write(
            Array(try PostureReport.wireEncoder().encode(entry)), to: path(entry.sequence), mode: 0o600)
        let all = try sequences()
        guard all.count > capacity else { return 0 }
        let dropped = all.prefix(all.count - capacity)
        var gap = try self.gap() ?? SpoolGap(firstSequence: dropped.first ?? 0, lastSequence: 0, count: 0)
        for sequence in dropped {
            try DurableFile.remove(path(sequence))
            gap.lastSequence = sequence
            gap.count += 1
        }
        try DurableFile.write(Array(try PostureReport.wireEncoder().encode(gap)), to: gapPath, mode: 0o600)
        return dropped.count
    }

    public func replace(_ entry: Entry) throws {
        try DurableFile.write(
            Array(try PostureReport.wireEncoder().encode(entry)), to: path(entry.sequence), mode: 0o600)
    }

    public func remove(_ sequence: UInt64) throws { try DurableFile.remove(path(sequence)) }

    /// Moves an entry the collector will never accept aside (`rejected/`), for an operator to inspect.
    public func reject(_ sequence: UInt64) throws {
        try DurableFile.makeDirectory(directory + "/rejected", mode: 0o700)
        try DurableFile.move(path(sequence), to: directory + "/rejected/" + String(sequence) + ".json")
    }

    /// The refusal delivery is waiting out, if any.
    public func hold() throws -> Hold? {
        guard let bytes = try DurableFile.read(holdPath) else { return nil }
        return try? PostureReport.wireDecoder().decode(Hold.self, from: Data(bytes))
    }

    public func saveHold(_ hold: Hold?) throws {
        guard let hold else { return try DurableFile.remove(holdPath) }
        try DurableFile.write(Array(try PostureReport.wireEncoder().encode(hold)), to: holdPath, mode: 0o600)
    }

    /// Reports dropped since the collector last acknowledged a gap.
    public func gap() throws -> SpoolGap? {
        guard let bytes = try DurableFile.read(gapPath) else { return nil }
        return try? PostureReport.wireDecoder().decode(SpoolGap.self, from: Data(bytes))
    }

    public func clearGap(ifEqualTo delivered: SpoolGap) throws {
        if try gap() == delivered { try DurableFile.remove(gapPath) }
    }
}
