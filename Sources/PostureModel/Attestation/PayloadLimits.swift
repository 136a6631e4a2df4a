#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The documented range of every field a device signs (`Sources/PostureModel/SCHEMA.md`, "Ranges").
///
/// A device's numbers and strings are untrusted: a value outside its range is refused at ingest as
/// `malformed_payload`, naming the field, so nothing stored can later trap the collector's arithmetic
/// (Swift traps on overflow), overflow a column or grow without bound. The bounds are far above what a
/// real host reports and far below where sums of them could overflow a 64-bit integer.
public enum PayloadLimits {
    /// Counts and sizes: 2^40, a trillion; eleven journal counts of this size still sum inside 2^44.
    public static let count: ClosedRange<Int> = 0...(1 << 40)
    /// Sequence numbers are stored as SQLite/PostgreSQL signed 64-bit integers.
    public static let sequence: ClosedRange<UInt64> = 1...UInt64(Int64.max)
    /// Times: from the epoch to the last second RFC 3339's four-digit year can write.
    public static let seconds: ClosedRange<Double> = 0...253_402_300_799
    /// Uptime: up to a thousand years, in seconds.
    public static let uptime: ClosedRange<Double> = 0...31_557_600_000
    /// nftables chain priorities are 32-bit signed in the kernel.
    public static let priority: ClosedRange<Int> = Int(Int32.min)...Int(Int32.max)
    /// Short names (a device, a chain, a version), paths and messages, in UTF-8 bytes.
    public static let name = 256
    public static let path = 4096
    public static let message = 8192
    /// Elements of one array or object.
    public static let elements = 4096
    /// A block device stack this deep is not a real host (dm on dm on loop …).
    public static let blockDepth = 16

    /// Throws `malformed_payload` naming the first field out of its range.
    public static func check(_ payload: AttestationPayload) throws(AttestationRefusal) {
        var checker = Checker()
        checker.envelope(payload)
        checker.report(payload.report, at: "report")
        if let problem = checker.problem {
            throw AttestationRefusal(
                .malformedPayload, "\(problem); the ranges are in Sources/PostureModel/SCHEMA.md (\"Ranges\")")
        }
    }

    /// The same check for a report alone (`policy test --report`, a stored report read back).
    public static func check(_ report: PostureReport) throws(AttestationRefusal) {
        var checker = Checker()
        checker.report(report, at: "report")
        if let problem = checker.problem {
            throw AttestationRefusal(
                .malformedPayload, "\(problem); the ranges are in Sources/PostureModel/SCHEMA.md (\"Ranges\")")
        }
    }

    /// Records the first problem only: one precise reason is what the device's operator needs.
    private struct Checker {
        var problem: String?

        mutating func fail(_ field: @autoclosure () -> String, _ why: String) {
            if problem == nil { problem = "\(field()) \(why)" }
        }

        mutating func integer(_ value: Int, _ range: ClosedRange<Int>, _ field: @autoclosure () -> String) {
            if !range.contains(value) { fail(field(), "is \(value), outside \(range.lowerBound)…\(range.upperBound)") }
        }

        mutating func number(_ value: Double, _ range: ClosedRange<Double>, _ field: @autoclosure () -> String) {
            if !value.isFinite || !range.contains(value) {
                fail(field(), "is \(value), outside \(range.lowerBound)…\(range.upperBound)")
            }
        }

        mutating func date(_ value: Date, _ field: @autoclosure () -> String) {
            number(value.timeIntervalSince1970, PayloadLimits.seconds, field())
        }

        mutating func text(_ value: String, _ limit: Int, _ field: @autoclosure () -> String) {
            let bytes = value.utf8.count
            if bytes > limit { fail(field(), "is \(bytes) bytes long; at most \(limit)") }
        }

        mutating func texts(_ values: [String], _ limit: Int, _ field: @autoclosure () -> String) {
            elements(values.count, field())
            for (index, value) in values.enumerated() { text(value, limit, "\(field())[\(index)]") }
        }

        mutating func elements(_ count: Int, _ field: @autoclosure () -> String, limit: Int = PayloadLimits.elements) {
            if count > limit { fail(field(), "has \(count) elements; at most \(limit)") }
        }

        mutating func fact<V>(_ fact: Fact<V>, _ field: @autoclosure () -> String, value: (inout Checker, V) -> Void) {
            text(fact.source, PayloadLimits.path, "\(field()).source")
            switch fact {
            case .observed(let observed, _): value(&self, observed)
            case .unavailable(let reason, _): text(reason, PayloadLimits.message, "\(field()).reason")
            }
        }

        mutating func textFact(_ fact: Fact<String>, _ field: @autoclosure () -> String) {
            self.fact(fact, field()) { $0.text($1, PayloadLimits.name, "\(field()).value") }
        }

        mutating func boolFact(_ fact: Fact<Bool>, _ field: @autoclosure () -> String) {
            self.fact(fact, field()) { _, _ in }
        }

        mutating func envelope(_ payload: AttestationPayload) {
            text(payload.deviceID, PayloadLimits.name, "deviceID")
            text(payload.nonce, PayloadLimits.name, "nonce")
            if !PayloadLimits.sequence.contains(payload.sequence) {
                fail("sequence", "is \(payload.sequence), outside 1…\(Int64.max)")
            }
            date(payload.issuedAt, "issuedAt")
            if let gap = payload.spoolGap {
                for (value, name) in [(gap.firstSequence, "first"), (gap.lastSequence, "last")]
                where !PayloadLimits.sequence.contains(value) {
                    fail("spoolGap.\(name)Sequence", "is \(value), outside 1…\(Int64.max)")
                }
                if gap.lastSequence < gap.firstSequence {
                    fail("spoolGap.lastSequence", "is before spoolGap.firstSequence")
                } else if gap.count < 1 || gap.count > gap.lastSequence - gap.firstSequence + 1 {
                    fail("spoolGap.count", "is \(gap.count), more than the sequences from first to last")
                }
            }
        }

        mutating func report(_ report: PostureReport, at root: String) {
            date(report.collectedAt, "\(root).collectedAt")
            text(report.agentVersion, PayloadLimits.name, "\(root).agentVersion")
            operatingSystem(report.os, at: "\(root).os")
            fact(report.diskEncryption, "\(root).diskEncryption") { $0.disk($1, at: "\(root).diskEncryption.value") }
            firewall(report.firewall, at: "\(root).firewall")
            fact(report.journal, "\(root).journal") { $0.journal($1, at: "\(root).journal.value") }
            fact(report.secureBoot, "\(root).secureBoot") {
                $0.text($1.firmware, PayloadLimits.name, "\(root).secureBoot.value.firmware")
            }
            fact(report.kernelLockdown, "\(root).kernelLockdown") {
                $0.text($1.mode, PayloadLimits.name, "\(root).kernelLockdown.value.mode")
                $0.texts($1.available, PayloadLimits.name, "\(root).kernelLockdown.value.available")
            }
            fact(report.securityModules, "\(root).securityModules") { checker, modules in
                let field = { "\(root).securityModules.value" }
                checker.texts(modules.active, PayloadLimits.name, "\(field()).active")
                if let profiles = modules.appArmor?.profiles {
                    checker.elements(profiles.count, "\(field()).appArmor.profiles")
                    for (mode, count) in profiles {
                        checker.text(mode, PayloadLimits.name, "\(field()).appArmor.profiles")
                        checker.integer(count, PayloadLimits.count, "\(field()).appArmor.profiles.\(mode.prefix(64))")
                    }
                }
            }
            fact(report.sshd, "\(root).sshd") { checker, sshd in
                let field = { "\(root).sshd.value" }
                checker.text(sshd.permitRootLogin, PayloadLimits.name, "\(field()).permitRootLogin")
                checker.integer(sshd.maxAuthTries, 0...Int(Int32.max), "\(field()).maxAuthTries")
                checker.integer(sshd.matchBlocks, PayloadLimits.count, "\(field()).matchBlocks")
                checker.texts(sshd.files, PayloadLimits.path, "\(field()).files")
            }
            if let sudo = report.sudo {
                fact(sudo, "\(root).sudo") { checker, sudo in
                    let field = { "\(root).sudo.value" }
                    checker.elements(sudo.standingUsers.count, "\(field()).standingUsers", limit: 1024)
                    checker.texts(sudo.standingUsers, PayloadLimits.name, "\(field()).standingUsers")
                    checker.elements(sudo.rules.count, "\(field()).rules", limit: 256)
                    for rule in sudo.rules {
                        checker.text(rule.who, PayloadLimits.name, "\(field()).rules.who")
                        checker.text(rule.at, PayloadLimits.path, "\(field()).rules.at")
                    }
                    checker.integer(sudo.postureGrants, PayloadLimits.count, "\(field()).postureGrants")
                    checker.elements(sudo.files.count, "\(field()).files", limit: 1024)
                    checker.texts(sudo.files, PayloadLimits.path, "\(field()).files")
                }
            }
            if let patches = report.patches { self.patches(patches, at: "\(root).patches") }
            if let sessions = report.sessions { self.sessions(sessions, at: "\(root).sessions") }
            if let agent = report.agent {
                if !["off", "dry-run", "enforce"].contains(agent.enforcement) {
                    fail(
                        "\(root).agent.enforcement", "is '\(agent.enforcement.prefix(64))', not off, dry-run or enforce"
                    )
                }
                integer(agent.intervalSeconds, 1...86400, "\(root).agent.intervalSeconds")
            }
            if let tpm = report.tpm {
                fact(tpm, "\(root).tpm") { checker, tpm in
                    let field = { "\(root).tpm.value" }
                    for (name, value) in [
                        ("manufacturer", tpm.manufacturer), ("vendor", tpm.vendor),
                        ("firmwareVersion", tpm.firmwareVersion),
                    ] {
                        if let value { checker.text(value, PayloadLimits.name, "\(field()).\(name)") }
                    }
                    if let pcrs = tpm.pcrs {
                        checker.elements(pcrs.count, "\(field()).pcrs", limit: 10)
                        checker.texts(pcrs, 64, "\(field()).pcrs")
                    }
                    if let log = tpm.eventLog {
                        checker.text(log, (TPMEventLog.maxBytes + 2) / 3 * 4, "\(field()).eventLog")
                    }
                    if let why = tpm.eventLogUnavailable {
                        checker.text(why, PayloadLimits.message, "\(field()).eventLogUnavailable")
                    }
                }
            }
        }

        mutating func patches(_ patches: PatchFacts, at root: String) {
            fact(patches.packages, "\(root).packages") { checker, packages in
                let field = { "\(root).packages.value" }
                checker.text(packages.manager, PayloadLimits.name, "\(field()).manager")
                for (name, value) in [
                    ("installed", packages.installed), ("pending", packages.pending),
                    ("pendingSecurity", packages.pendingSecurity),
                ] {
                    checker.integer(value, PayloadLimits.count, "\(field()).\(name)")
                }
                if let date = packages.listsUpdatedAt { checker.date(date, "\(field()).listsUpdatedAt") }
                if let date = packages.lastChange { checker.date(date, "\(field()).lastChange") }
                checker.elements(packages.securityArchives.count, "\(field()).securityArchives", limit: 256)
                checker.texts(packages.securityArchives, PayloadLimits.name, "\(field()).securityArchives")
                checker.elements(packages.security.count, "\(field()).security", limit: PackageUpdates.listedLimit)
                for update in packages.security {
                    for (name, text) in [
                        ("package", update.package), ("architecture", update.architecture),
                        ("installed", update.installed), ("candidate", update.candidate), ("origin", update.origin),
                    ] {
                        checker.text(text, PayloadLimits.name, "\(field()).security.\(name)")
                    }
                    checker.date(update.since, "\(field()).security.since")
                }
            }
            fact(patches.kernel, "\(root).kernel") { checker, kernel in
                checker.text(kernel.running, PayloadLimits.name, "\(root).kernel.value.running")
                checker.text(kernel.newestInstalled, PayloadLimits.name, "\(root).kernel.value.newestInstalled")
            }
        }

        mutating func sessions(_ sessions: Fact<SessionFacts>, at root: String) {
            fact(sessions, root) { checker, facts in
                let field = { "\(root).value" }
                checker.integer(facts.total, PayloadLimits.count, "\(field()).total")
                checker.elements(facts.sessions.count, "\(field()).sessions", limit: SessionFacts.listedLimit)
                for session in facts.sessions {
                    for (name, text) in [
                        ("id", session.id), ("user", session.user), ("type", session.type),
                        ("class", session.sessionClass), ("service", session.service),
                        ("remoteHost", session.remoteHost ?? ""), ("desktop", session.desktop ?? ""),
                    ] {
                        checker.text(text, PayloadLimits.name, "\(field()).sessions.\(name)")
                    }
                    if let date = session.idleSince { checker.date(date, "\(field()).sessions.idleSince") }
                    if let date = session.since { checker.date(date, "\(field()).sessions.since") }
                }
            }
        }

        mutating func operatingSystem(_ os: OSFacts, at root: String) {
            fact(os.osRelease, "\(root).osRelease") { checker, fields in
                checker.elements(fields.count, "\(root).osRelease.value", limit: 256)
                for (key, value) in fields {
                    checker.text(key, PayloadLimits.name, "\(root).osRelease.value")
                    checker.text(value, PayloadLimits.path, "\(root).osRelease.value.\(key.prefix(64))")
                }
            }
            textFact(os.kernelRelease, "\(root).kernelRelease")
            fact(os.kernelVersion, "\(root).kernelVersion") {
                $0.text($1, PayloadLimits.path, "\(root).kernelVersion.value")
            }
            textFact(os.architecture, "\(root).architecture")
            textFact(os.machineID, "\(root).machineID")
            textFact(os.bootID, "\(root).bootID")
            fact(os.uptimeSeconds, "\(root).uptimeSeconds") {
                $0.number($1, PayloadLimits.uptime, "\(root).uptimeSeconds.value")
            }
            fact(os.rebootRequired, "\(root).rebootRequired") {
                $0.texts($1.reasons, PayloadLimits.path, "\(root).rebootRequired.value.reasons")
            }
        }

        mutating func disk(_ disk: DiskEncryptionFacts, at root: String) {
            boolFact(disk.rootEncrypted, "\(root).rootEncrypted")
            if let home = disk.homeEncrypted { boolFact(home, "\(root).homeEncrypted") }
            boolFact(disk.allSwapEncrypted, "\(root).allSwapEncrypted")
            elements(disk.volumes.count, "\(root).volumes")
            for (index, volume) in disk.volumes.enumerated() {
                let field = { "\(root).volumes[\(index)]" }
                texts(volume.mountPoints, PayloadLimits.path, "\(field()).mountPoints")
                text(volume.fsType, PayloadLimits.name, "\(field()).fsType")
                text(volume.source, PayloadLimits.path, "\(field()).source")
                blockDevices(volume.devices, at: { "\(field()).devices" }, depth: 1)
            }
            elements(disk.swaps.count, "\(root).swaps")
            for (index, swap) in disk.swaps.enumerated() {
                let field = { "\(root).swaps[\(index)]" }
                text(swap.path, PayloadLimits.path, "\(field()).path")
                integer(swap.sizeKiB, PayloadLimits.count, "\(field()).sizeKiB")
                blockDevices(swap.devices, at: { "\(field()).devices" }, depth: 1)
            }
        }

        mutating func blockDevices(_ devices: [BlockDevice], at field: @escaping () -> String, depth: Int) {
            guard depth <= PayloadLimits.blockDepth else {
                return fail(field(), "nests block devices deeper than \(PayloadLimits.blockDepth)")
            }
            elements(devices.count, field(), limit: 256)
            for (index, device) in devices.enumerated() where problem == nil {
                let path = { "\(field())[\(index)]" }
                text(device.name, PayloadLimits.name, "\(path()).name")
                text(device.number, PayloadLimits.name, "\(path()).number")
                if let name = device.dmName { text(name, PayloadLimits.name, "\(path()).dmName") }
                if let uuid = device.dmUUID { text(uuid, PayloadLimits.name, "\(path()).dmUUID") }
                if let file = device.backingFile { text(file, PayloadLimits.path, "\(path()).backingFile") }
                blockDevices(device.lower, at: { "\(path()).lower" }, depth: depth + 1)
            }
        }

        mutating func firewall(_ firewall: FirewallFacts, at root: String) {
            fact(firewall.nftables, "\(root).nftables") { checker, ruleset in
                let field = { "\(root).nftables.value.tables" }
                checker.elements(ruleset.tables.count, field())
                for (index, table) in ruleset.tables.enumerated() {
                    let path = { "\(field())[\(index)]" }
                    checker.text(table.family, PayloadLimits.name, "\(path()).family")
                    checker.text(table.name, PayloadLimits.name, "\(path()).name")
                    checker.elements(table.chains.count, "\(path()).chains")
                    for (number, chain) in table.chains.enumerated() {
                        let chainPath = { "\(path()).chains[\(number)]" }
                        checker.text(chain.name, PayloadLimits.name, "\(chainPath()).name")
                        for (value, key) in [(chain.type, "type"), (chain.hook, "hook"), (chain.policy, "policy")] {
                            if let value { checker.text(value, PayloadLimits.name, "\(chainPath()).\(key)") }
                        }
                        if let priority = chain.priority {
                            checker.integer(priority, PayloadLimits.priority, "\(chainPath()).priority")
                        }
                        checker.integer(chain.ruleCount, PayloadLimits.count, "\(chainPath()).ruleCount")
                    }
                }
            }
            fact(firewall.iptablesLegacy, "\(root).iptablesLegacy") { checker, legacy in
                let field = { "\(root).iptablesLegacy.value.tables" }
                checker.elements(legacy.tables.count, field(), limit: 64)
                for (index, table) in legacy.tables.enumerated() {
                    let path = { "\(field())[\(index)]" }
                    checker.text(table.family, PayloadLimits.name, "\(path()).family")
                    checker.text(table.name, PayloadLimits.name, "\(path()).name")
                    checker.integer(table.ruleCount, PayloadLimits.count, "\(path()).ruleCount")
                    checker.integer(table.userChains, PayloadLimits.count, "\(path()).userChains")
                    checker.elements(table.policies.count, "\(path()).policies", limit: 64)
                    for (chain, policy) in table.policies {
                        checker.text(chain, PayloadLimits.name, "\(path()).policies")
                        checker.text(policy, PayloadLimits.name, "\(path()).policies.\(chain.prefix(64))")
                    }
                }
            }
            fact(firewall.inboundFiltered, "\(root).inboundFiltered") { checker, filtering in
                let field = { "\(root).inboundFiltered.value" }
                checker.elements(filtering.byFamily.count, "\(field()).byFamily", limit: 16)
                for family in filtering.byFamily.keys {
                    checker.text(family, PayloadLimits.name, "\(field()).byFamily")
                }
                checker.texts(filtering.evidence, PayloadLimits.path, "\(field()).evidence")
            }
            fact(firewall.activeFrameworks, "\(root).activeFrameworks") {
                $0.texts($1, PayloadLimits.name, "\(root).activeFrameworks.value")
            }
        }

        mutating func journal(_ journal: JournalFacts, at root: String) {
            text(journal.journal, PayloadLimits.path, "\(root).journal")
            if let cursor = journal.afterCursor { text(cursor, PayloadLimits.path, "\(root).afterCursor") }
            if let cursor = journal.cursor { text(cursor, PayloadLimits.path, "\(root).cursor") }
            if let since = journal.since { date(since, "\(root).since") }
            integer(journal.entriesExamined, PayloadLimits.count, "\(root).entriesExamined")
            integer(journal.notableOmitted, PayloadLimits.count, "\(root).notableOmitted")
            integer(journal.messagesTruncated, PayloadLimits.count, "\(root).messagesTruncated")
            integer(journal.notableDroppedForSize, PayloadLimits.count, "\(root).notableDroppedForSize")
            if let reason = journal.cursorReset { text(reason, PayloadLimits.message, "\(root).cursorReset") }
            for (category, count) in journal.counts {
                integer(count, PayloadLimits.count, "\(root).counts.\(category.rawValue)")
            }
            elements(journal.notable.count, "\(root).notable", limit: 1000)
            for (index, event) in journal.notable.enumerated() {
                let field = { "\(root).notable[\(index)]" }
                number(Double(event.time.microsecondsSinceEpoch) / 1e6, PayloadLimits.seconds, "\(field()).time")
                if let unit = event.unit { text(unit, PayloadLimits.name, "\(field()).unit") }
                if let identifier = event.identifier { text(identifier, PayloadLimits.name, "\(field()).identifier") }
                text(event.message, PayloadLimits.message, "\(field()).message")
                text(event.cursor, PayloadLimits.path, "\(field()).cursor")
            }
        }
    }
}
