import Foundation
import PostureModel
import PostureVerdict
import Testing

/// The policy against a real report (`postured probe` on a build machine: root not encrypted, no firewall,
/// no journal, BIOS boot), varied one fact at a time, with a clock the test controls.
@Suite struct PolicyEvaluationTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let shippedPolicy = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("etc/posture/policy.yaml")

    let machineReport: PostureReport
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    init() throws {
        machineReport = try PostureReport.makeDecoder().decode(
            PostureReport.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("report.json")))
    }

    /// The machine's report with everything the shipped policy asks for put right.
    var goodReport: PostureReport {
        var report = machineReport
        report.os.osRelease = .observed(["ID": "debian", "VERSION_ID": "12"], source: "test")
        var disk = report.diskEncryption.value!
        disk.rootEncrypted = .observed(true, source: "test")
        disk.allSwapEncrypted = .observed(true, source: "test")
        report.diskEncryption = .observed(disk, source: "test")
        report.firewall.inboundFiltered = .observed(
            InboundFiltering(ipv4: true, ipv6: true, byFamily: [:], evidence: []), source: "test")
        report.journal = .observed(
            try! PostureReport.makeDecoder().decode(
                JournalFacts.self,
                from: Data(
                    #"{"journal":"system","entriesExamined":0,"counts":{},"notable":[],"notableOmitted":0}"#.utf8)),
            source: "test")
        return report
    }

    func policy(_ yaml: String) throws -> Policy { try PolicyParser.parse(yaml, file: "test.yaml") }

    func input(_ report: PostureReport?, at now: Date, issued: Date? = nil, labels: [String: String] = [:])
        -> EvaluationInput
    {
        EvaluationInput(
            deviceID: "d1", labels: labels, report: report, reportIssuedAt: report == nil ? nil : (issued ?? now),
            now: now)
    }

    @Test func theShippedPolicyParsesAndJudgesThisMachine() throws {
        let policy = try PolicyParser.load(path: Self.shippedPolicy.path)
        #expect(policy.rules.map(\.name).contains("root-encrypted"))
        let verdict = policy.evaluate(input(machineReport, at: t0))
        #expect(verdict.status == .noncompliant)
        let root = try #require(verdict.failing.first { $0.rule == "root-encrypted" })
        #expect(root.observed == "root filesystem not encrypted")
        #expect(root.severity == .critical)
        // The firewall rule has a 1h grace period: failing, but excused for now.
        #expect(verdict.excused.contains { $0.rule == "inbound-filtered" && $0.state == .grace })
        // Secure Boot applies to laptops only.
        #expect(!(verdict.failing + verdict.excused).contains { $0.rule == "secure-boot" })
        #expect(
            policy.evaluate(input(machineReport, at: t0, labels: ["class": "laptop"])).failing.contains {
                $0.rule == "secure-boot"
            })
        #expect(policy.evaluate(input(goodReport, at: t0)).status == .compliant)
    }

    @Test func anUnavailableFactIsUnknownOrFailsAsThePolicySays() throws {
        let yaml = """
            rules:
              - {name: journal-quiet, check: journalEvents, events: [sshAuthFailure], max: 5}
            """
        let lenient = try policy(yaml)
        let verdict = lenient.evaluate(input(machineReport, at: t0))
        #expect(verdict.status == .unknown)
        #expect(verdict.unknown.first?.rule == "journal-quiet")
        #expect(verdict.unknown.first?.observed.contains("no journal files") == true)
        let strict = try policy("whenUnavailable: fail\n" + yaml)
        #expect(strict.evaluate(input(machineReport, at: t0)).status == .noncompliant)
        let skip = try policy(yaml.replacingOccurrences(of: "max: 5}", with: "max: 5, whenUnavailable: pass}"))
        #expect(skip.evaluate(input(machineReport, at: t0)).status == .compliant)
    }

    @Test func securityUpdatesBoundCountWaitAndListAge() throws {
        let day: TimeInterval = 86400
        func patches(
            _ updates: [PendingUpdate], lists: Date? = nil, archives: [String] = ["Debian-Security bookworm-security"]
        ) -> PatchFacts {
            PatchFacts(
                packages: .observed(
                    PackageUpdates(
                        manager: "dpkg", installed: 400, listsUpdatedAt: lists ?? t0.addingTimeInterval(-day),
                        pending: updates.count + 3, pendingSecurity: updates.count, security: updates,
                        lastChange: nil, securityArchives: archives),
                    source: "/var/lib/dpkg/status"),
                kernel: .observed(
                    RunningKernel(running: "6.1.0-27", newestInstalled: "6.1.0-27", current: true), source: "k"))
        }
        func update(_ name: String, waiting days: Double) -> PendingUpdate {
            PendingUpdate(
                package: name, architecture: "amd64", installed: "1", candidate: "1+deb12u1",
                origin: "Debian-Security bookworm-security", since: t0.addingTimeInterval(-days * day))
        }
        let deadline = try policy(
            "rules:\n  - {name: patched, check: securityUpdates, maxPendingAge: 14d, maxListsAge: 7d}\n")
        var report = goodReport
        report.patches = nil
        #expect(deadline.evaluate(input(report, at: t0)).unknown.first?.observed.contains("predates") == true)
        report.patches = patches([update("openssl", waiting: 3), update("zlib1g", waiting: 13)])
        #expect(deadline.evaluate(input(report, at: t0)).status == .compliant, "pending, within the deadline")
        report.patches = patches([update("openssl", waiting: 3), update("zlib1g", waiting: 15)])
        #expect(deadline.evaluate(input(report, at: t0)).failing.first?.observed == "zlib1g 1+deb12u1 pending for 15d")
        report.patches = patches([], lists: t0.addingTimeInterval(-30 * day))
        #expect(
            deadline.evaluate(input(report, at: t0)).failing.first?.observed
                == "newest package list published 30d ago (apt-get update not run, or its mirror is stale)")
        // No security archive among the lists: nothing can be pending, and that is the problem.
        report.patches = patches([], archives: [])
        #expect(
            deadline.evaluate(input(report, at: t0)).failing.first?.observed.hasPrefix("no security archive") == true)
        // An rpm host: the fix named is dnf's.
        var rpm = patches([], lists: t0.addingTimeInterval(-30 * day), archives: [])
        rpm.packages = rpm.packages.map {
            var packages = $0
            packages.manager = "rpm"
            return packages
        }
        report.patches = rpm
        let rpmProblems = deadline.evaluate(input(report, at: t0)).failing.first?.observed ?? ""
        #expect(rpmProblems.contains("updateinfo") && rpmProblems.contains("dnf makecache not run"), "\(rpmProblems)")
        report.patches = PatchFacts(
            packages: .unavailable(reason: "no package database", source: "/var/lib/dpkg/status"),
            kernel: .unavailable(reason: "container", source: "/lib/modules"))
        #expect(deadline.evaluate(input(report, at: t0)).status == .unknown)

        // No bound given: none may be pending. A count bound alone ignores the wait.
        let none = try policy("rules:\n  - {name: patched, check: securityUpdates}\n")
        report.patches = patches([update("openssl", waiting: 0)])
        #expect(none.evaluate(input(report, at: t0)).failing.first?.observed == "1 security updates pending (openssl)")
        let two = try policy("rules:\n  - {name: patched, check: securityUpdates, maxPending: 2}\n")
        report.patches = patches([update("a", waiting: 90), update("b", waiting: 1)])
        #expect(two.evaluate(input(report, at: t0)).status == .compliant)
        #expect(throws: PolicyError.self) {
            try policy("rules:\n  - {name: p, check: securityUpdates, maxPendingAge: soon}\n")
        }
    }

    @Test func runningKernelCurrentFailsBehindTheNewestInstalled() throws {
        let policy = try policy("rules:\n  - {name: kernel, check: runningKernelCurrent}\n")
        var report = goodReport
        func kernel(_ fact: Fact<RunningKernel>) -> PatchFacts {
            PatchFacts(packages: .unavailable(reason: "n/a", source: "s"), kernel: fact)
        }
        report.patches = kernel(
            .observed(RunningKernel(running: "6.1.0-25", newestInstalled: "6.1.0-27", current: false), source: "k"))
        #expect(
            policy.evaluate(input(report, at: t0)).failing.first?.observed
                == "running kernel 6.1.0-25, 6.1.0-27 installed (reboot into it)")
        report.patches = kernel(
            .observed(RunningKernel(running: "6.1.0-27", newestInstalled: "6.1.0-27", current: true), source: "k"))
        #expect(policy.evaluate(input(report, at: t0)).status == .compliant)
        report.patches = kernel(.unavailable(reason: "no kernel under /lib/modules", source: "/lib/modules"))
        #expect(policy.evaluate(input(report, at: t0)).status == .unknown)
    }

    @Test func screenLockFailsForAGraphicalSessionIdleTooLongUnlessItIsLocked() throws {
        let policy = try policy("rules:\n  - {name: screen, check: screenLock, maxIdle: 10m}\n")
        var report = goodReport
        report.collectedAt = t0
        report.sessions = nil
        #expect(
            policy.evaluate(input(report, at: t0)).unknown.first?.observed.contains("upgrade posture-agent") == true)
        func session(
            _ id: String, _ user: String, type: String = "wayland", desktop: String? = "GNOME", idleFor: Double?,
            locked: ScreenLock, sessionClass: String = "user"
        ) -> LoginSessionFacts {
            LoginSessionFacts(
                id: id, user: user, uid: 1000, type: type, sessionClass: sessionClass, remote: false, remoteHost: nil,
                service: "gdm-password", desktop: desktop, active: true, idle: idleFor != nil,
                idleSince: idleFor.map { t0.addingTimeInterval(-$0) }, locked: locked, since: nil)
        }
        func judge(_ sessions: [LoginSessionFacts], _ rule: Policy? = nil) -> Verdict {
            report.sessions = .observed(SessionFacts(sessions: sessions, total: sessions.count), source: "logind")
            return (rule ?? policy).evaluate(input(report, at: t0.addingTimeInterval(3600)))
        }
        // Idle 5 minutes: not yet; idle 12 and unlocked: fails; locked: passes.
        #expect(judge([session("2", "alice", idleFor: 300, locked: .unlocked)]).status == .compliant)
        #expect(
            judge([session("2", "alice", idleFor: 720, locked: .unlocked)]).failing.first?.observed
                == "session 2 (alice, wayland, GNOME) idle 12m and unlocked")
        #expect(judge([session("2", "alice", idleFor: 720, locked: .locked)]).status == .compliant)
        // A desktop that does not report its lock: unknown fails unless the rule accepts it.
        let unknown = [session("3", "dave", desktop: "i3", idleFor: 7200, locked: .unknown)]
        #expect(
            judge(unknown).failing.first?.observed
                == "session 3 (dave, wayland, i3) idle 2h, lock state unknown (its desktop does not report LockedHint)")
        let lenient = try self.policy(
            "rules:\n  - {name: screen, check: screenLock, maxIdle: 10m, unknownLock: pass}\n")
        #expect(judge(unknown, lenient).status == .compliant)
        // Such a desktop rarely says it is idle either: "not idle" from it proves nobody is at the screen.
        let silent = [session("3", "dave", desktop: "i3", idleFor: nil, locked: .unknown)]
        #expect(
            judge(silent).failing.first?.observed
                == "session 3 (dave, wayland, i3): lock state unknown (its desktop reports neither lock nor idle time to logind)"
        )
        #expect(judge(silent, lenient).status == .compliant)
        // Not idle: passes whatever the lock. Idle with no time known: as long as can be.
        #expect(judge([session("4", "bob", idleFor: nil, locked: .unlocked)]).status == .compliant)
        var noTime = session("4", "bob", idleFor: 0, locked: .unlocked)
        noTime.idleSince = nil
        #expect(
            judge([noTime]).failing.first?.observed
                == "session 4 (bob, wayland, GNOME) idle since an unknown time and unlocked")
        // Terminals, ssh and greeters have no screen to lock; idle hours do not matter.
        #expect(
            judge([
                session("5", "carol", type: "tty", desktop: nil, idleFor: 36000, locked: .notApplicable),
                session("6", "gdm", idleFor: 36000, locked: .unlocked, sessionClass: "greeter"),
            ]).status == .compliant)
        // The default bound is 15 minutes.
        let defaults = try self.policy("rules:\n  - {name: screen, check: screenLock}\n")
        #expect(judge([session("2", "alice", idleFor: 840, locked: .unlocked)], defaults).status == .compliant)
        #expect(judge([session("2", "alice", idleFor: 960, locked: .unlocked)], defaults).status == .noncompliant)
        report.sessions = .unavailable(reason: "no D-Bus system bus", source: "logind")
        #expect(policy.evaluate(input(report, at: t0)).status == .unknown)
    }

    @Test func standingSudoFailsForAnyoneNotAllowedAndIsUnknownFromAnOldAgent() throws {
        let policy = try policy("rules:\n  - {name: no-standing-sudo, check: standingSudo, allowed: [ansible]}\n")
        var report = goodReport
        report.sudo = nil
        let old = policy.evaluate(input(report, at: t0))
        #expect(old.status == .unknown && old.unknown.first?.observed.contains("upgrade posture-agent") == true)
        func sudo(_ users: [String], grants: Int = 0) -> Fact<SudoFacts> {
            .observed(
                SudoFacts(
                    installed: true, standingUsers: users, rules: [], postureGrants: grants, files: ["/etc/sudoers"]),
                source: "/etc/sudoers")
        }
        report.sudo = sudo(["ansible"], grants: 3)
        #expect(policy.evaluate(input(report, at: t0)).status == .compliant, "allowed, and grants do not count")
        report.sudo = sudo(["alice", "ansible", "ALL"])
        let standing = policy.evaluate(input(report, at: t0))
        #expect(standing.failing.first?.observed == "standing sudo: alice, ALL")
        report.sudo = .unavailable(reason: "permission denied", source: "/etc/sudoers")
        #expect(policy.evaluate(input(report, at: t0)).status == .unknown)
    }

    @Test func aReportAgesOutAtMaxAge() throws {
        let yaml = "report: {maxAge: 10m}\nrules:\n  - {name: root, check: rootEncrypted}\n"
        let policy = try policy(yaml)
        let fresh = policy.evaluate(input(goodReport, at: t0.addingTimeInterval(599), issued: t0))
        #expect(fresh.status == .compliant)
        #expect(fresh.reevaluateAt == t0.addingTimeInterval(600))
        #expect(fresh.validUntil == t0.addingTimeInterval(600))  // not the 5m lifetime past the report's age
        let stale = policy.evaluate(input(goodReport, at: t0.addingTimeInterval(600), issued: t0))
        #expect(stale.status == .unknown)
        #expect(stale.unknown.first?.state == .stale)
        #expect(policy.evaluate(input(nil, at: t0)).status == .unknown)
        let strict = try self.policy(
            yaml.replacingOccurrences(of: "{maxAge: 10m}", with: "{maxAge: 10m, whenStale: noncompliant}"))
        #expect(strict.evaluate(input(goodReport, at: t0.addingTimeInterval(601), issued: t0)).status == .noncompliant)
    }

    @Test func graceRunsFromWhenTheRuleFirstFailed() throws {
        let policy = try policy("report: {maxAge: 2h}\nrules:\n  - {name: root, check: rootEncrypted, grace: 1h}\n")
        let first = policy.evaluate(input(machineReport, at: t0))
        #expect(first.status == .compliant)
        #expect(first.excused.first?.until == t0.addingTimeInterval(3600))
        #expect(first.reevaluateAt == t0.addingTimeInterval(3600))
        var later = input(machineReport, at: t0.addingTimeInterval(3599))
        later.previous = first
        let stillGrace = policy.evaluate(later)
        #expect(stillGrace.status == .compliant)
        later.now = t0.addingTimeInterval(3600)
        later.previous = stillGrace
        let over = policy.evaluate(later)
        #expect(over.status == .noncompliant)
        #expect(over.failing.first?.since == t0)
        // Without the history the grace period would start again: the carried start time matters.
        #expect(policy.evaluate(input(machineReport, at: t0.addingTimeInterval(3600))).status == .compliant)
    }

    @Test func aWaiverExcusesItsRuleUntilItExpires() throws {
        let policy = try policy(
            "rules:\n  - {name: root, check: rootEncrypted}\n  - {name: swap, check: swapEncrypted}\n")
        let expires = t0.addingTimeInterval(7200)
        let waiver = Waiver(
            id: "w1", rule: "root", deviceID: "d1", label: nil, reason: "disk replacement ordered", by: "alice",
            createdAt: t0, expiresAt: expires)
        var waived = input(machineReport, at: expires.addingTimeInterval(-1))
        waived.waivers = [waiver]
        let during = policy.evaluate(waived)
        #expect(during.status == .compliant)
        #expect(during.excused.first?.waiver == "w1")
        #expect(during.reevaluateAt == expires)
        waived.now = expires
        #expect(policy.evaluate(waived).status == .noncompliant)
        // A waiver for another device, a label the device lacks, or a revoked waiver excuses nothing.
        for other in [
            Waiver(
                id: "w2", rule: "root", deviceID: "d2", label: nil, reason: "r", by: "a", createdAt: t0,
                expiresAt: expires),
            Waiver(
                id: "w3", rule: "root", deviceID: nil, label: ["team": "x"], reason: "r", by: "a", createdAt: t0,
                expiresAt: expires),
            Waiver(
                id: "w4", rule: "root", deviceID: "d1", label: nil, reason: "r", by: "a", createdAt: t0,
                expiresAt: expires, revokedAt: t0),
        ] {
            var given = input(machineReport, at: t0)
            given.waivers = [other]
            #expect(policy.evaluate(given).status == .noncompliant)
        }
        var byLabel = input(machineReport, at: t0, labels: ["team": "x"])
        byLabel.waivers = [
            Waiver(
                id: "w5", rule: "root", deviceID: nil, label: ["team": "x"], reason: "r", by: "a", createdAt: t0,
                expiresAt: expires)
        ]
        #expect(policy.evaluate(byLabel).status == .compliant)
    }

    @Test func quarantineMakesAnyDeviceNoncompliant() throws {
        let policy = try policy("rules:\n  - {name: root, check: rootEncrypted}\n")
        var quarantined = input(goodReport, at: t0)
        quarantined.quarantine = Quarantine(by: "alice", reason: "stolen laptop", at: t0)
        let verdict = policy.evaluate(quarantined)
        #expect(verdict.status == .noncompliant)
        #expect(verdict.version != policy.evaluate(input(goodReport, at: t0)).version)
    }

    @Test func riskCountsFailingRulesAndSignalsWithinTheWindow() throws {
        let policy = try policy(
            """
            risk: {window: 1h, signals: {usbDeviceAdded: {perEvent: 5, max: 15}, sshAuthFailure: {perEvent: 1, max: 20}}}
            rules:
              - {name: root, check: rootEncrypted, severity: critical}
              - {name: brute, check: journalEvents, events: [sshAuthFailure], max: 10, window: 30m}
            """)
        var given = input(goodReport, at: t0)
        given.signals = [
            SignalSample(at: t0.addingTimeInterval(-4000), counts: [.usbDeviceAdded: 9]),  // out of the window
            SignalSample(at: t0.addingTimeInterval(-2400), counts: [.sshAuthFailure: 8, .usbDeviceAdded: 2]),
            SignalSample(at: t0.addingTimeInterval(-60), counts: [.sshAuthFailure: 4]),
        ]
        let verdict = policy.evaluate(given)
        // 12 failures in the hour (risk), but only 4 in the rule's 30 minutes: the rule passes.
        #expect(verdict.status == .compliant)
        #expect(verdict.risk == 12 + 10)
        #expect(verdict.riskReasons.contains("+12 12 sshAuthFailure in 1h"))
        given.signals.append(SignalSample(at: t0, counts: [.sshAuthFailure: 7]))
        let failing = policy.evaluate(given)
        #expect(failing.failing.map(\.rule) == ["brute"])
        #expect(failing.failing.first?.observed == "11 sshAuthFailure in 30m")
        given.report = machineReport
        given.report!.journal = goodReport.journal
        let worst = policy.evaluate(given)
        #expect(worst.risk == min(100, 40 + 10 + 19 + 10))
    }

    @Test func osVersionsCompareNumerically() throws {
        let policy = try policy("rules:\n  - {name: os, check: osVersion, minimum: {ubuntu: \"22.04\", debian: 12}}\n")
        for (id, version, ok) in [
            ("ubuntu", "22.04", true), ("ubuntu", "22.10", true), ("ubuntu", "20.04", false), ("debian", "11", false),
            ("debian", "13", true), ("fedora", "41", false), ("debian", "", false),
        ] {
            var report = goodReport
            report.os.osRelease = .observed(["ID": id, "VERSION_ID": version], source: "t")
            #expect(
                policy.evaluate(input(report, at: t0)).status == (ok ? .compliant : .noncompliant), "\(id) \(version)")
        }
    }

    /// measuredBoot: the quoted PCRs against the device's baseline, or a policy's reference values per PCR;
    /// only for a device whose key enrollment proved to be in a TPM.
    @Test func measuredBootComparesTheQuotedPCRsWithTheBaselineOrTheReference() throws {
        let zero = String(repeating: "0", count: 64)
        let kernelA = String(repeating: "a", count: 64)
        let kernelB = String(repeating: "b", count: 64)
        let quoted = (0..<10).map { $0 == 9 ? kernelB : zero }
        let measured = MeasuredBoot(pcrs: quoted, eventLog: nil, unavailable: "no firmware log")
        let baseline = MeasuredBoot.pcrMap((0..<10).map { $0 == 9 ? kernelA : zero })
        func verdict(_ yaml: String, boot: BootEvidence?, key: KeyProtection = .tpm) throws -> Verdict {
            var input = input(goodReport, at: t0)
            input.keyProtection = key
            input.boot = boot
            return try policy("rules:\n" + yaml).evaluate(input)
        }
        let rule = "  - {name: boot, check: measuredBoot}\n"
        let changed = try verdict(rule, boot: BootEvidence(measured: measured, baseline: baseline))
        #expect(changed.status == .noncompliant)
        #expect(changed.failing.first?.observed.contains("PCR 9 changed") == true, "\(changed.failing)")
        let same = try verdict(rule, boot: BootEvidence(measured: measured, baseline: MeasuredBoot.pcrMap(quoted)))
        #expect(same.status == .compliant)
        // Only the PCRs the rule names count.
        let firmwareOnly = try verdict(
            "  - {name: boot, check: measuredBoot, pcrs: [0, 7]}\n",
            boot: BootEvidence(measured: measured, baseline: baseline))
        #expect(firmwareOnly.status == .compliant)
        // A fleet's reference values for PCR 9 stand instead of the device's baseline.
        let reference = "  - {name: boot, check: measuredBoot, reference: {\"9\": [\(kernelA), \(kernelB)]}}\n"
        #expect(try verdict(reference, boot: BootEvidence(measured: measured, baseline: baseline)).status == .compliant)
        let notReference = "  - {name: boot, check: measuredBoot, reference: {\"9\": [\(kernelA)]}}\n"
        let refused = try verdict(notReference, boot: BootEvidence(measured: measured, baseline: baseline))
        #expect(refused.failing.first?.observed.contains("PCR 9 bbbbbbbbbbbbbbbb… is not a reference value") == true)
        // No baseline: fails, naming the command that records one; no quote yet: unknown.
        let none = try verdict(rule, boot: BootEvidence(measured: measured, baseline: nil))
        #expect(none.failing.first?.observed.contains("accept-boot") == true)
        #expect(try verdict(rule, boot: BootEvidence(measured: nil, baseline: baseline)).status == .unknown)
        // A software key: nothing quotes what booted.
        let software = try verdict(rule, boot: nil, key: .software)
        #expect(software.failing.first?.observed.contains("no TPM quotes what booted") == true)
    }

    @Test func brokenPolicyFilesNameTheLineAndTheFix() {
        let cases: [(String, Int?, String)] = [
            ("rules:\n  - name: a\n    check: rootEncrypted\n    sevrity: high\n", 4, "unknown key 'sevrity'"),
            ("rules:\n  - name: a\n    check: diskMagic\n", 3, "unknown check 'diskMagic'"),
            ("rules:\n  - {name: a, check: rootEncrypted, grace: soon}\n", 2, "not a duration"),
            ("rules:\n  - {name: a, check: rootEncrypted}\n  - {name: a, check: swapEncrypted}\n", 3, "used twice"),
            ("report: {maxAge: 15m}\n", 1, "no rules"),
            ("rules:\n  - {name: a, check: journalEvents, events: [sshFail], max: 3}\n", 2, "unknown event 'sshFail'"),
            ("rules: [\n", nil, "not valid YAML"),
            ("rules:\n  - {name: b, check: measuredBoot, pcrs: [0, 12]}\n", 2, "PCR '12' is not one of the quoted"),
            ("rules:\n  - name: b\n    check: measuredBoot\n    reference: {\"4\": [abc]}\n", 4, "64 hex digits"),
            ("rules:\n  - {name: b, check: measuredBoot, pcrs: []}\n", 2, "name at least one PCR"),
            ("rules:\n  - {name: s, check: screenLock, unknownLock: maybe}\n", 2, "s.unknownLock"),
            ("rules:\n  - {name: s, check: screenLock, maxIdle: later}\n", 2, "not a duration"),
            ("rules:\n  - {name: b, check: measuredBoot, reference: {\"4\": []}}\n", 2, "list at least one value"),
            (
                "rules:\n  - {name: b, check: measuredBoot, pcrs: [0], reference: {\"4\": [\(String(repeating: "a", count: 64))]}}\n",
                2, "PCR 4 is not in b.pcrs"
            ),
        ]
        for (yaml, line, reason) in cases {
            #expect(throws: PolicyError.self) { try PolicyParser.parse(yaml, file: "p.yaml") }
            do {
                _ = try PolicyParser.parse(yaml, file: "p.yaml")
            } catch {
                #expect(error.line == line, "\(yaml)")
                #expect(error.reason.contains(reason), "\(error)")
                #expect(error.description.hasPrefix("p.yaml"))
            }
        }
    }
}

/// Reports stored before their ranges were checked, or replayed into `policy test`, must never trap the
/// evaluator: Swift traps on overflow, and a trap in the collector takes the fleet's verdicts down.
@Suite struct ExtremeValueEvaluationTests {
    @Test func journalCountsAtTheLimitsOfIntSaturateInsteadOfTrapping() throws {
        let policy = try PolicyParser.load(path: PolicyEvaluationTests.shippedPolicy.path)
        let report = try PostureReport.makeDecoder().decode(
            PostureReport.self,
            from: Data(contentsOf: PolicyEvaluationTests.fixtures.appendingPathComponent("report.json")))
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let all = Dictionary(uniqueKeysWithValues: JournalEventCategory.allCases.map { ($0, Int.max) })
        let signals = (0..<3).map { SignalSample(at: now.addingTimeInterval(Double(-$0)), counts: all) }
        let verdict = policy.evaluate(
            EvaluationInput(
                deviceID: "d1", labels: [:], report: report, reportIssuedAt: now, signals: signals, now: now))
        #expect(verdict.risk == 100)
        #expect(verdict.riskReasons.contains { $0.contains("\(Int.max) sshAuthFailure") })
    }
}
