import Foundation
import PostureLinux
import PostureModel
import TestSupport
import Testing

@testable import PostureProbes

/// A cursor that names no entry of the journal read, and journal text no report can carry: real journal
/// files written by systemd-journal-remote, `journalctl -o json` as the oracle.
@Suite(Requirement.available(programs: [JournalFixture.journalRemote, "journalctl"]))
struct JournalCursorAndSizeTests {
    private func read(_ fixture: JournalFixture, after cursor: String? = nil) throws -> JournalFacts {
        let options = JournalOptions(source: .files([fixture.file.path]), afterCursor: cursor)
        let fact = JournalProbe().collect(in: ProbeContext(now: Date(), journal: options))
        return try #require(fact.value, "journal unavailable: \(fact.unavailableReason ?? "?")")
    }

    @Test func aCursorOfAnotherJournalReadsTheWindowAndSaysSo() throws {
        var local = JournalFixture(directory: try Paths.temporaryDirectory("journal-local"))
        try local.append(JournalProbeTests.batch(2), secondsAgo: 600)
        // Another machine's journal, written later: its cursor places sd-journal after every local entry.
        var other = JournalFixture(directory: try Paths.temporaryDirectory("journal-other"))
        try other.append(JournalProbeTests.batch(3), secondsAgo: 30)
        let foreign = try #require(try read(other).cursor)

        let facts = try read(local, after: foreign)
        let oracle = try local.journalctlEntries()
        #expect(facts.counts == JournalProbeTests.oracleCounts(oracle))
        #expect(facts.cursorReset?.contains("names no entry") == true)
        #expect(facts.afterCursor == foreign && facts.since != nil)
        let lastMatching = oracle.last { $0["SYSLOG_IDENTIFIER"] as? String != "CRON" }
        #expect(facts.cursor != foreign && facts.cursor == lastMatching?["__CURSOR"] as? String)
    }

    @Test func aCursorNamingNoEntryOfThisJournalReadsTheWindow() throws {
        var fixture = JournalFixture(directory: try Paths.temporaryDirectory("journal-noentry"))
        try fixture.append(JournalProbeTests.batch(2), secondsAgo: 120)
        let valid = try #require(try read(fixture).cursor)
        // This journal's sequence-number ID, but a sequence number and time no entry has.
        let fields = valid.split(separator: ";").map { field -> String in
            if field.hasPrefix("i=") { return "i=ffffffff" }
            if field.hasPrefix("t=") { return "t=7fffffffffffff" }
            return String(field)
        }
        let facts = try read(fixture, after: fields.joined(separator: ";"))
        #expect(facts.cursorReset != nil)
        #expect(facts.counts == JournalProbeTests.oracleCounts(try fixture.journalctlEntries()))

        // A cursor that does name an entry is used, and no reset is reported.
        let resumed = try read(fixture, after: valid)
        #expect(resumed.cursorReset == nil && resumed.entriesExamined == 0 && resumed.cursor == valid)
    }

    @Test func longLinesFromLocalUsersCannotInflateTheReport() throws {
        var fixture = JournalFixture(directory: try Paths.temporaryDirectory("journal-long"))
        let sshd = ["SYSLOG_IDENTIFIER": "sshd", "_TRANSPORT": "syslog", "_SYSTEMD_UNIT": "ssh.service"]
        // What `logger -t sshd` lets any user write: 40 matching lines of 200 KB each.
        let padding = String(repeating: "A", count: 200_000)
        let long = (0..<40).map { index in
            sshd.merging(["MESSAGE": "Failed password for root from 192.0.2.\(index) port 22 ssh2 \(padding)"]) { $1 }
        }
        try fixture.append(long, secondsAgo: 90)
        // Newest: a multi-byte message, and a spoofed systemd message with a 1,000-byte identifier.
        let euro = "Failed password for " + String(repeating: "€", count: 2000)
        try fixture.append(
            [
                sshd.merging(["MESSAGE": euro]) { $1 },
                [
                    "SYSLOG_IDENTIFIER": String(repeating: "x", count: 1000), "_TRANSPORT": "journal",
                    "MESSAGE_ID": JournalClassifier.unitStopped, "UNIT": "nftables.service", "MESSAGE": "Stopped.",
                ],
            ], secondsAgo: 30)

        let facts = try read(fixture)
        #expect(facts.counts[.sshAuthFailure] == 41 && facts.counts[.securityUnitStopped] == 1)
        let bytes = facts.notable.reduce(0) {
            $0 + $1.message.utf8.count + ($1.unit?.utf8.count ?? 0) + ($1.identifier?.utf8.count ?? 0)
        }
        #expect(bytes <= NotableBudget.maxAttachedBytes)
        #expect(facts.notable.allSatisfy { $0.message.utf8.count <= NotableBudget.maxMessageBytes })
        #expect(facts.notable.allSatisfy { ($0.identifier?.utf8.count ?? 0) <= NotableBudget.maxNameBytes })
        #expect(facts.notable.count < 42 && facts.notableDroppedForSize == 42 - facts.notable.count)
        #expect(facts.notableOmitted == 42 - facts.notable.count)
        // Every attached event was cut (the spoofed one in its identifier), and the newest were kept.
        #expect(facts.messagesTruncated == facts.notable.count)
        let newest = try #require(facts.notable.last)
        #expect(newest.category == .securityUnitStopped && newest.identifier?.hasSuffix("…") == true)
        let cut = try #require(facts.notable.dropLast().last?.message)
        #expect(cut.hasSuffix(NotableBudget.truncationMark) && euro.hasPrefix(String(cut.dropLast())))
        #expect(cut.utf8.count == "Failed password for ".utf8.count + 3 * 333 + 3)

        // The whole journal section stays far below the collector's 1 MiB body limit.
        let encoded = try JSONEncoder().encode(facts)
        #expect(encoded.count < 64 * 1024, "journal section is \(encoded.count) bytes")
    }

    @Test func truncationEndsOnACharacterBoundary() {
        var cut = false
        #expect(NotableBudget.prefix("short", maxBytes: 16, cut: &cut) == "short" && !cut)
        // "é" is two bytes: cutting after one would split it.
        #expect(NotableBudget.prefix("aéééé", maxBytes: 6, cut: &cut) == "aé…" && cut)
        #expect(NotableBudget.prefix("éééé", maxBytes: 4, cut: &cut) == "…")
    }

    @Test func reportsWithoutTheNewFieldsStillDecode() throws {
        let old = #"{"journal":"j","entriesExamined":0,"counts":{},"notable":[],"notableOmitted":0}"#
        let facts = try JSONDecoder().decode(JournalFacts.self, from: Data(old.utf8))
        #expect(facts.cursorReset == nil && facts.messagesTruncated == 0 && facts.notableDroppedForSize == 0)
    }
}
