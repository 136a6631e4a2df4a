import Foundation
import PostureLinux
import PostureModel
import TestSupport
import Testing

@testable import PostureProbes

/// Real journal files made by systemd-journal-remote, read through sd-journal; `journalctl -o json` on
/// the same file is the oracle.
@Suite(Requirement.available(programs: [JournalFixture.journalRemote, "journalctl"]))
struct JournalProbeTests {
    static let label = JournalFixture.labelField

    /// One batch of entries of every category, mixed with look-alikes that must not count.
    static func batch(_ n: Int) -> [[String: String]] {
        var entries: [[String: String]] = []
        func add(_ category: String, _ fields: [String: String]) {
            entries.append(fields.merging([label: category]) { a, _ in a })
        }
        let sshd = ["SYSLOG_IDENTIFIER": "sshd", "_TRANSPORT": "syslog", "_SYSTEMD_UNIT": "ssh.service"]
        let sudo = ["SYSLOG_IDENTIFIER": "sudo", "_TRANSPORT": "syslog"]
        let kernel = ["SYSLOG_IDENTIFIER": "kernel", "_TRANSPORT": "kernel"]
        let systemd = ["SYSLOG_IDENTIFIER": "systemd", "_TRANSPORT": "journal", "_PID": "1"]
        for i in 0..<n {
            add(
                "sshAuthFailure",
                sshd.merging(["MESSAGE": "Failed password for root from 192.0.2.\(i) port 22 ssh2"]) { $1 })
            add(
                "sshAuthFailure",
                sshd.merging(["MESSAGE": "Failed publickey for invalid user bob from 192.0.2.9 port 4 ssh2"]) { $1 })
            add(
                "sshInvalidUser",
                sshd.merging([
                    "SYSLOG_IDENTIFIER": "sshd-session",
                    "MESSAGE": "Invalid user admin\(i) from 198.51.100.7 port 50000",
                ]) { $1 })
            add("none", sshd.merging(["MESSAGE": "Accepted publickey for alice from 192.0.2.1 port 22 ssh2"]) { $1 })
            add("none", sshd.merging(["MESSAGE": "pam_unix(sshd:auth): authentication failure; logname= uid=0"]) { $1 })
            add(
                "sudoAuthFailure",
                sudo.merging([
                    "MESSAGE":
                        "alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/sh"
                ]) { $1 })
            add(
                "sudoDenied",
                sudo.merging([
                    "MESSAGE": "mallory : user NOT in sudoers ; TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/bin/bash"
                ]) { $1 })
            add(
                "sudoToRoot",
                sudo.merging([
                    "MESSAGE": "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt update"
                ]) { $1 })
            add(
                "none",
                sudo.merging(["MESSAGE": "alice : TTY=pts/0 ; PWD=/home/alice ; USER=postgres ; COMMAND=/usr/bin/psql"])
                { $1 })
            add(
                "usbDeviceAdded",
                kernel.merging([
                    "MESSAGE": "usb 1-\(i): New USB device found, idVendor=0781, idProduct=5567, bcdDevice= 1.00"
                ]) { $1 })
            add(
                "none",
                kernel.merging(["MESSAGE": "usb 1-\(i): new high-speed USB device number 3 using xhci_hcd"]) { $1 })
            add(
                "segfault",
                kernel.merging([
                    "MESSAGE":
                        "a.out[42\(i)]: segfault at 0 ip 000055d0c0de1139 sp 00007ffd4e3c5d60 error 6 in a.out[55d0c0de1000+1000]"
                ]) { $1 })
            add(
                "kernelOops",
                kernel.merging(["MESSAGE": "BUG: kernel NULL pointer dereference, address: 0000000000000000"]) { $1 })
            add(
                "securityUnitStopped",
                systemd.merging([
                    "MESSAGE": "Stopped nftables.service.", "MESSAGE_ID": JournalClassifier.unitStopped,
                    "UNIT": "nftables.service",
                ]) { $1 })
            add(
                "none",
                systemd.merging([
                    "MESSAGE": "Stopped cron.service.", "MESSAGE_ID": JournalClassifier.unitStopped,
                    "UNIT": "cron.service",
                ]) { $1 })
            add(
                "securityUnitFailed",
                systemd.merging([
                    "MESSAGE": "auditd.service: Failed with result 'exit-code'.",
                    "MESSAGE_ID": JournalClassifier.unitFailureResult, "UNIT": "auditd.service",
                ]) { $1 })
            add(
                "loginSessionStarted",
                [
                    "SYSLOG_IDENTIFIER": "systemd-logind", "_TRANSPORT": "journal",
                    "MESSAGE": "New session \(i) of user alice.", "MESSAGE_ID": JournalClassifier.sessionStart,
                ])
            add(
                "none",
                [
                    "SYSLOG_IDENTIFIER": "CRON", "_TRANSPORT": "syslog",
                    "MESSAGE": "Failed password for nothing (not sshd)",
                ])
        }
        return entries
    }

    /// Counts per category from journalctl's JSON, using the label each test entry carries.
    static func oracleCounts(_ entries: [[String: Any]]) -> [JournalEventCategory: Int] {
        var counts = Dictionary(uniqueKeysWithValues: JournalEventCategory.allCases.map { ($0, 0) })
        for entry in entries {
            if let label = entry[label] as? String, let category = JournalEventCategory(rawValue: label) {
                counts[category, default: 0] += 1
            }
        }
        return counts
    }

    private func read(_ fixture: JournalFixture, after cursor: String? = nil, limit: Int = 100) throws -> JournalFacts {
        let options = JournalOptions(source: .files([fixture.file.path]), afterCursor: cursor, notableLimit: limit)
        let fact = JournalProbe().collect(in: ProbeContext(now: Date(), journal: options))
        guard let facts = fact.value else {
            Issue.record("journal unavailable: \(fact.unavailableReason ?? "?")")
            throw CancellationError()
        }
        return facts
    }

    @Test func countsPerCategoryMatchJournalctl() throws {
        var fixture = JournalFixture(directory: try Paths.temporaryDirectory("journal"))
        try fixture.append(Self.batch(3))
        let oracle = try fixture.journalctlEntries()
        #expect(oracle.count == Self.batch(3).count)

        let facts = try read(fixture)
        #expect(facts.counts == Self.oracleCounts(oracle))
        #expect(JournalEventCategory.allCases.allSatisfy { (facts.counts[$0] ?? 0) > 0 })
        // The notable events are real entries: each cursor is one journalctl shows, with its message.
        let byCursor = Dictionary(uniqueKeysWithValues: oracle.map { ($0["__CURSOR"] as! String, $0) })
        for event in facts.notable {
            let entry = try #require(byCursor[event.cursor])
            #expect(entry["MESSAGE"] as? String == event.message)
            #expect(entry[Self.label] as? String == event.category.rawValue)
        }
        #expect(facts.notable.count == facts.counts.filter { $0.key.isNotable }.values.reduce(0, +))
        #expect(
            facts.cursor == oracle.last {
                ($0[Self.label] as? String) != nil && $0["SYSLOG_IDENTIFIER"] as? String != "CRON"
            }?["__CURSOR"] as? String)
    }

    @Test func resumingFromTheCursorYieldsExactlyTheNewEntries() throws {
        var fixture = JournalFixture(directory: try Paths.temporaryDirectory("journal-resume"))
        try fixture.append(Self.batch(2), secondsAgo: 120)
        let first = try read(fixture)
        let firstCursor = try #require(first.cursor)

        // Nothing new: nothing counted, and the cursor stays where it was.
        let idle = try read(fixture, after: firstCursor)
        #expect(idle.counts.values.allSatisfy { $0 == 0 })
        #expect(idle.cursor == firstCursor && idle.notable.isEmpty && idle.entriesExamined == 0)

        try fixture.append(Self.batch(3), secondsAgo: 30)
        let all = try fixture.journalctlEntries()
        let second = try read(fixture, after: firstCursor)

        let firstOracle = Self.oracleCounts(Array(all.prefix(Self.batch(2).count)))
        let secondOracle = Self.oracleCounts(Array(all.dropFirst(Self.batch(2).count)))
        #expect(first.counts == firstOracle)
        #expect(second.counts == secondOracle)
        // None lost, none twice.
        let firstCursors = Set(first.notable.map(\.cursor))
        #expect(second.notable.allSatisfy { !firstCursors.contains($0.cursor) })
        #expect(
            first.notable.count + second.notable.count
                == all.filter {
                    ($0[Self.label] as? String).flatMap(JournalEventCategory.init(rawValue:))?.isNotable == true
                }.count)
        #expect(second.cursor != firstCursor)
    }

    @Test func notableEventsAreCappedKeepingTheNewest() throws {
        var fixture = JournalFixture(directory: try Paths.temporaryDirectory("journal-cap"))
        try fixture.append(Self.batch(2))
        let facts = try read(fixture, limit: 5)
        let notableTotal = facts.counts.filter { $0.key.isNotable }.values.reduce(0, +)
        #expect(facts.notable.count == 5)
        #expect(facts.notableOmitted == notableTotal - 5)
        let oracle = try fixture.journalctlEntries()
        let newestNotable = oracle.filter {
            ($0[Self.label] as? String).flatMap(JournalEventCategory.init(rawValue:))?.isNotable == true
        }.suffix(5).map { $0["__CURSOR"] as! String }
        #expect(facts.notable.map(\.cursor) == Array(newestNotable))
    }

    @Test func aDirectoryOfJournalFilesCanBeRead() throws {
        let directory = try Paths.temporaryDirectory("journal-dir")
        var fixture = JournalFixture(directory: directory)
        try fixture.append(Self.batch(1))
        let options = JournalOptions(source: .directory(directory.path))
        let facts = try #require(JournalProbe().collect(in: ProbeContext(now: Date(), journal: options)).value)
        #expect(facts.counts == Self.oracleCounts(try fixture.journalctlEntries()))
    }

    @Test func entriesOlderThanTheWindowAreLeftOut() throws {
        var fixture = JournalFixture(directory: try Paths.temporaryDirectory("journal-window"))
        try fixture.append(Self.batch(1), secondsAgo: 3 * 3600)
        try fixture.append(Self.batch(2), secondsAgo: 60)
        let options = JournalOptions(source: .files([fixture.file.path]), window: .seconds(3600))
        let facts = try #require(JournalProbe().collect(in: ProbeContext(now: Date(), journal: options)).value)
        let recent = try fixture.journalctlEntries().dropFirst(Self.batch(1).count)
        #expect(facts.counts == Self.oracleCounts(Array(recent)))
    }

    @Test func aMalformedCursorIsReportedNotGuessed() throws {
        var fixture = JournalFixture(directory: try Paths.temporaryDirectory("journal-badcursor"))
        try fixture.append(Self.batch(1))
        let options = JournalOptions(source: .files([fixture.file.path]), afterCursor: "not-a-cursor")
        let fact = JournalProbe().collect(in: ProbeContext(now: Date(), journal: options))
        let reason = try #require(fact.unavailableReason)
        #expect(reason.contains("cursor"))
    }

    @Test func aMissingJournalFileIsUnavailableWithTheReason() {
        let options = JournalOptions(source: .files(["/nonexistent/posture.journal"]))
        let fact = JournalProbe().collect(in: ProbeContext(now: Date(), journal: options))
        #expect(fact.unavailableReason?.contains("/nonexistent/posture.journal") == true)
    }
}
