import PostureLinux
import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Security-relevant journal events after a cursor (or, without one or when it names no entry here,
/// within a window before now), counted per category, with the notable ones attached within a size
/// budget and the cursor to resume from.
public struct JournalProbe: Probe {
    public init() {}

    /// The fields the classifier and the notable events need, read in one pass per entry.
    static let fields = FieldSet(["SYSLOG_IDENTIFIER", "_TRANSPORT", "MESSAGE_ID", "UNIT", "MESSAGE", "_SYSTEMD_UNIT"])
    /// The first five: all the forward pass needs, so its scan of each entry can stop sooner.
    static let classifierFields = FieldSet(Array(fields.names.prefix(5)))

    static func entry(_ values: [String?]) -> JournalClassifier.Entry {
        JournalClassifier.Entry(
            identifier: values[0], transport: values[1], messageID: values[2], unit: values[3], message: values[4] ?? ""
        )
    }

    public func collect(in context: ProbeContext) -> Fact<JournalFacts> {
        let options = context.journal
        let source = options.source ?? .system(root: context.root)
        return .reading(source.description) { try read(source, options: options, now: context.now) }
    }

    func read(_ source: JournalSource, options: JournalOptions, now: Date) throws -> JournalFacts {
        let reader = try JournalReader(source)
        if case .system = source, reader.usageBytes() == 0 {
            throw ProbeError(
                "no journal files under /var/log/journal or /run/log/journal; is systemd-journald running?")
        }
        try reader.addMatches(anyOf: JournalClassifier.matches)
        // The cursor actually resumed after: nil when none was given or it names no entry here.
        var resumeAfter: String?
        var cursorReset: String?
        if let cursor = options.afterCursor {
            if try Self.namesAnEntry(cursor, reader) {
                resumeAfter = cursor
            } else {
                // sd-journal seeks to any well-formed cursor, placing a foreign one by its time: resuming
                // there would skip (or never reach) events. Count the window instead, and say so.
                cursorReset =
                    "the cursor names no entry of \(source.description) (it is another journal's, or its entry "
                    + "was vacuumed); read from since instead"
            }
        }
        var since: Date?
        if let resumeAfter {
            try reader.seek(.after(cursor: resumeAfter))
        } else {
            // A window reaching before 1970 starts at the epoch: the journal holds nothing older, and the
            // collector refuses a time before it (SCHEMA.md, "Ranges").
            let start = max(now - TimeInterval(options.window.components.seconds), Date(timeIntervalSince1970: 0))
            since = start
            try reader.seek(.realtime(microseconds: UInt64(start.timeIntervalSince1970 * 1_000_000)))
        }

        // Forward: classify and count every entry. Cursors are not read here: formatting one costs more
        // than classifying an entry, and only the newest `notableLimit` notable events are attached.
        let classifier = JournalClassifier(watchedUnits: options.watchedUnits)
        let categories = JournalEventCategory.allCases
        var counts = [Int](repeating: 0, count: categories.count)
        var examined = 0
        while try reader.next() {
            examined += 1
            if let category = classifier.category(of: Self.entry(reader.read(Self.classifierFields))) {
                if let index = categories.firstIndex(of: category) { counts[index] += 1 }
            }
        }
        let notableTotal = zip(categories, counts).filter { $0.0.isNotable }.reduce(0) { $0 + $1.1 }
        var notable: [JournalEvent] = []
        var budget = NotableBudget()
        var droppedForSize = 0
        var lastCursor = resumeAfter
        if examined > 0 {
            // The reader still stands on the last entry read: resume from here next time.
            lastCursor = try reader.cursor()
            // Backward from it: the newest notable events, with their cursors, within the size budget.
            let wanted = min(options.notableLimit, notableTotal)
            if wanted > 0 {
                repeat {
                    if let after = resumeAfter, reader.isAt(cursor: after) { break }
                    let values = reader.read(Self.fields)
                    let entry = Self.entry(values)
                    guard let category = classifier.category(of: entry), category.isNotable else { continue }
                    let event = JournalEvent(
                        category: category,
                        time: Timestamp(microsecondsSinceEpoch: Int64(try reader.realtimeMicroseconds())),
                        unit: entry.unit ?? values[5], identifier: entry.identifier, message: entry.message,
                        cursor: try reader.cursor())
                    guard let admitted = budget.admit(event) else {
                        droppedForSize = wanted - notable.count
                        break
                    }
                    notable.append(admitted)
                } while try notable.count < wanted && reader.previous()
            }
            notable.reverse()
        }
        let countsByCategory = Dictionary(uniqueKeysWithValues: zip(categories, counts))
        let omitted = notableTotal - notable.count

        return JournalFacts(
            journal: source.description, afterCursor: options.afterCursor, since: since, cursor: lastCursor,
            entriesExamined: examined, counts: countsByCategory, notable: notable, notableOmitted: omitted,
            cursorReset: cursorReset, messagesTruncated: budget.truncated, notableDroppedForSize: droppedForSize)
    }

    /// Whether `cursor` names an entry of this journal. Seeking succeeds for any well-formed cursor; only
    /// the entry found there, tested against the cursor, tells. The cursor's entry matched the same
    /// filters when it was read, so stepping onto it is not skipped by them. A malformed cursor throws.
    static func namesAnEntry(_ cursor: String, _ reader: JournalReader) throws -> Bool {
        try reader.seek(.after(cursor: cursor))
        return try reader.previous() && reader.isAt(cursor: cursor)
    }
}
