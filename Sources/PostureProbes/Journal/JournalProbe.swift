#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PostureLinux
import PostureModel

/// Security-relevant journal events after a cursor (or, without one, within a window before now),
/// counted per category, with the notable ones attached and the cursor to resume from.
public struct JournalProbe: Probe {
    public init() {}

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
        var since: Date?
        if let cursor = options.afterCursor {
            try reader.seek(.after(cursor: cursor))
        } else {
            let start = now - TimeInterval(options.window.components.seconds)
            since = start
            try reader.seek(.realtime(microseconds: UInt64(max(0, start.timeIntervalSince1970) * 1_000_000)))
        }

        let classifier = JournalClassifier(watchedUnits: options.watchedUnits)
        var counts = Dictionary(uniqueKeysWithValues: JournalEventCategory.allCases.map { ($0, 0) })
        var notable: [JournalEvent] = []
        var omitted = 0
        var examined = 0
        var lastCursor = options.afterCursor
        var movedPastStart = false

        while try reader.next() {
            examined += 1
            movedPastStart = true
            let messageID = reader.field("MESSAGE_ID")
            let entry = JournalClassifier.Entry(
                identifier: reader.field("SYSLOG_IDENTIFIER"),
                transport: reader.field("_TRANSPORT"),
                messageID: messageID,
                unit: messageID == nil ? nil : reader.field("UNIT"),
                message: reader.field("MESSAGE") ?? "")
            guard let category = classifier.category(of: entry) else { continue }
            counts[category, default: 0] += 1
            guard category.isNotable else { continue }
            if notable.count == options.notableLimit {
                notable.removeFirst()
                omitted += 1
            }
            notable.append(
                JournalEvent(
                    category: category,
                    time: Date(timeIntervalSince1970: Double(try reader.realtimeMicroseconds()) / 1_000_000),
                    unit: entry.unit ?? reader.field("_SYSTEMD_UNIT"), identifier: entry.identifier,
                    message: entry.message, cursor: try reader.cursor()))
        }
        if movedPastStart { lastCursor = try reader.cursor() }

        return JournalFacts(
            journal: source.description, afterCursor: options.afterCursor, since: since, cursor: lastCursor,
            entriesExamined: examined, counts: counts, notable: notable, notableOmitted: omitted)
    }
}
