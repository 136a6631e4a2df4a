import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One rule against one report: pass, fail with what was observed, or unavailable with why.
enum RuleCheck {
    enum Result: Equatable {
        case pass
        case fail(String)
        case unavailable(String)
    }

    static func run(
        _ check: Check, report: PostureReport, signals: [SignalSample], keyProtection: KeyProtection = .software,
        boot: BootEvidence? = nil, now: Date
    ) -> Result {
        switch check {
        case .osVersion(let minimum, let allowOthers):
            guard let release = report.os.osRelease.value else { return unavailable(report.os.osRelease) }
            let id = release["ID"] ?? "unknown"
            let version = release["VERSION_ID"] ?? ""
            guard let wanted = minimum[id] else {
                return allowOthers ? .pass : .fail("\(id) \(version) is not an allowed distribution")
            }
            return compareVersions(version, wanted) >= 0 ? .pass : .fail("\(id) \(version)")
        case .kernelVersion(let minimum):
            guard let release = report.os.kernelRelease.value else { return unavailable(report.os.kernelRelease) }
            return compareVersions(release, minimum) >= 0 ? .pass : .fail("kernel \(release)")
        case .rootEncrypted:
            guard let disk = report.diskEncryption.value else { return unavailable(report.diskEncryption) }
            guard let encrypted = disk.rootEncrypted.value else { return unavailable(disk.rootEncrypted) }
            return encrypted ? .pass : .fail("root filesystem not encrypted")
        case .swapEncrypted:
            guard let disk = report.diskEncryption.value else { return unavailable(report.diskEncryption) }
            guard let encrypted = disk.allSwapEncrypted.value else { return unavailable(disk.allSwapEncrypted) }
            let plain = disk.swaps.filter { !$0.encrypted }.map(\.path)
            return encrypted ? .pass : .fail("swap not encrypted: \(plain.joined(separator: ", "))")
        case .inboundFiltered(let families):
            let fact = report.firewall.inboundFiltered
            guard let filtering = fact.value else { return unavailable(fact) }
            let open = families.filter { family in
                switch family {
                case "ipv4": !filtering.ipv4
                case "ipv6": !filtering.ipv6
                default: !(filtering.byFamily[family] ?? false)
                }
            }
            return open.isEmpty ? .pass : .fail("inbound traffic not filtered for \(open.joined(separator: ", "))")
        case .journalEvents(let categories, let max, let window):
            guard report.journal.value != nil else { return unavailable(report.journal) }
            let since = now.addingTimeInterval(-window.seconds)
            let count = signals.filter { $0.at > since }.map { sample in
                categories.map { sample.counts[$0] ?? 0 }.saturatingSum()
            }.saturatingSum()
            let names = categories.map(\.rawValue).joined(separator: "+")
            return count <= max ? .pass : .fail("\(count) \(names) in \(Policy.age(window.seconds))")
        case .secureBoot:
            if keyProtection == .tpm, let boot, let fromLog = secureBootFromLog(boot, report: report) {
                return fromLog
            }
            guard let secureBoot = report.secureBoot.value else { return unavailable(report.secureBoot) }
            return secureBoot.enabled ? .pass : .fail("Secure Boot off (\(secureBoot.firmware))")
        case .kernelLockdown(let minimum):
            guard let lockdown = report.kernelLockdown.value else { return unavailable(report.kernelLockdown) }
            let order = ["none", "integrity", "confidentiality"]
            let have = order.firstIndex(of: lockdown.mode) ?? 0
            let want = order.firstIndex(of: minimum) ?? 1
            return have >= want ? .pass : .fail("lockdown \(lockdown.mode)")
        case .securityModule(let anyOf):
            guard let modules = report.securityModules.value else { return unavailable(report.securityModules) }
            return modules.active.contains(where: anyOf.contains)
                ? .pass : .fail("active: \(modules.active.isEmpty ? "none" : modules.active.joined(separator: ","))")
        case .sshd(let permitRootLogin, let passwordAuthentication, let permitEmptyPasswords):
            guard let sshd = report.sshd.value else { return unavailable(report.sshd) }
            guard sshd.installed else { return .pass }
            var problems: [String] = []
            if let allowed = permitRootLogin, !allowed.contains(sshd.permitRootLogin) {
                problems.append("PermitRootLogin \(sshd.permitRootLogin)")
            }
            if let wanted = passwordAuthentication, sshd.passwordAuthentication != wanted {
                problems.append("PasswordAuthentication \(sshd.passwordAuthentication ? "yes" : "no")")
            }
            if let wanted = permitEmptyPasswords, sshd.permitEmptyPasswords != wanted {
                problems.append("PermitEmptyPasswords \(sshd.permitEmptyPasswords ? "yes" : "no")")
            }
            return problems.isEmpty ? .pass : .fail(problems.joined(separator: ", "))
        case .noPendingReboot:
            guard let reboot = report.os.rebootRequired.value else { return unavailable(report.os.rebootRequired) }
            return reboot.required ? .fail("reboot pending: \(reboot.reasons.joined(separator: ", "))") : .pass
        case .standingSudo(let allowed):
            // An agent that predates it does not report it: unavailable, as an unreadable sudoers would be.
            guard let fact = report.sudo else { return notReported("sudo") }
            guard let sudo = fact.value else { return unavailable(fact) }
            let standing = sudo.standingUsers.filter { !allowed.contains($0) }
            return standing.isEmpty ? .pass : .fail("standing sudo: \(standing.joined(separator: ", "))")
        case .securityUpdates(let maxPending, let maxPendingAge, let maxListsAge):
            return securityUpdates(
                report, maxPending: maxPending, maxPendingAge: maxPendingAge, maxListsAge: maxListsAge, now: now)
        case .runningKernelCurrent:
            guard let patches = report.patches else { return notReported("patch level") }
            guard let kernel = patches.kernel.value else { return unavailable(patches.kernel) }
            return kernel.current
                ? .pass
                : .fail("running kernel \(kernel.running), \(kernel.newestInstalled) installed (reboot into it)")
        case .screenLock(let maxIdle, let allowUnknown):
            return screenLock(report, maxIdle: maxIdle, allowUnknown: allowUnknown)
        case .maxRisk:
            // Judged after the risk score, from it (`Policy.evaluate`).
            return .pass
        case .measuredBoot(let pcrs, let reference):
            return measuredBoot(pcrs, reference: reference, keyProtection: keyProtection, boot: boot)
        case .keyProtection(let minimum):
            // What enrollment proved, not what the device says: a report cannot raise it.
            return keyProtection >= minimum
                ? .pass
                : .fail(
                    keyProtection == .software
                        ? "device key: software (not proven to be in a TPM at enrollment)"
                        : "device key: \(keyProtection)")
        }
    }

    /// An age in its largest whole unit (`35d`, `5h`, `12m`): how long, not to the second.
    static func roughAge(_ seconds: Double) -> String {
        let s = seconds.rounded(.down).saturatingInt
        if s >= 86400 { return "\(s / 86400)d" }
        if s >= 3600 { return "\(s / 3600)h" }
        if s >= 60 { return "\(s / 60)m" }
        return "\(max(0, s))s"
    }

    static func notReported(_ what: String) -> Result {
        .unavailable("not reported: the agent predates the \(what) fact; upgrade posture-agent")
    }

    static func securityUpdates(
        _ report: PostureReport, maxPending: Int?, maxPendingAge: Duration?, maxListsAge: Duration?, now: Date
    ) -> Result {
        guard let patches = report.patches else { return notReported("patch level") }
        guard let packages = patches.packages.value else { return unavailable(patches.packages) }
        var problems: [String] = []
        let rpm = packages.manager == "rpm"
        if packages.securityArchives.isEmpty {
            problems.append(
                rpm
                    ? "no enabled repository publishes advisories (updateinfo) in dnf's cache (enable the distribution's updates repository)"
                    : "no security archive in the package lists (add the distribution's security suite to apt's sources)"
            )
        }
        if let maxListsAge {
            let refresh = rpm ? "dnf makecache" : "apt-get update"
            if let updated = packages.listsUpdatedAt {
                let age = now.timeIntervalSince(updated)
                if age > maxListsAge.seconds {
                    problems.append(
                        "newest package list published \(roughAge(age)) ago (\(refresh) not run, or its mirror is stale)"
                    )
                }
            } else {
                problems.append("no package lists (\(refresh) never run)")
            }
        }
        if let maxPending, packages.pendingSecurity > maxPending {
            let names = packages.security.prefix(5).map(\.package).joined(separator: ", ")
            let more = packages.pendingSecurity > 5 ? ", …" : ""
            problems.append("\(packages.pendingSecurity) security updates pending (\(names)\(more))")
        }
        if let maxPendingAge, let oldest = packages.security.min(by: { $0.since < $1.since }) {
            let age = now.timeIntervalSince(oldest.since)
            if age > maxPendingAge.seconds {
                problems.append("\(oldest.package) \(oldest.candidate) pending for \(roughAge(age))")
            }
        }
        return problems.isEmpty ? .pass : .fail(problems.joined(separator: "; "))
    }

    /// Idle is measured to when the report was gathered: the facts say nothing of the time since.
    static func screenLock(_ report: PostureReport, maxIdle: Duration, allowUnknown: Bool) -> Result {
        guard let fact = report.sessions else { return notReported("sessions") }
        guard let facts = fact.value else { return unavailable(fact) }
        var problems: [String] = []
        for session in facts.sessions where session.graphical && session.locked != .locked {
            let what =
                "session \(session.id) (\(session.user), \(session.type)\(session.desktop.map { ", \($0)" } ?? ""))"
            // A desktop that does not report its lock to logind rarely reports idleness either: "not idle"
            // from it is no evidence that someone is at the screen.
            if !session.idle {
                if session.locked == .unknown && !allowUnknown {
                    problems.append(
                        "\(what): lock state unknown (its desktop reports neither lock nor idle time to logind)")
                }
                continue
            }
            let idle = session.idleSince.map { report.collectedAt.timeIntervalSince($0) } ?? .infinity
            guard idle > maxIdle.seconds else { continue }
            let howLong = idle.isFinite ? "idle \(roughAge(idle))" : "idle since an unknown time"
            switch session.locked {
            case .unknown where !allowUnknown:
                problems.append("\(what) \(howLong), lock state unknown (its desktop does not report LockedHint)")
            case .unlocked: problems.append("\(what) \(howLong) and unlocked")
            default: break
            }
        }
        return problems.isEmpty ? .pass : .fail(problems.joined(separator: "; "))
    }

    /// A TPM device's Secure Boot as firmware measured it into PCR 7 (what efivars cannot fake): from its
    /// event log once the log replays to the quoted PCRs. Nil only where firmware measured no Secure Boot
    /// variable (BIOS) in a log that replays: then the report's efivars decide. A log that is absent or does
    /// not replay leaves Secure Boot unproven: the rule fails rather than believe the OS.
    static func secureBootFromLog(_ boot: BootEvidence, report: PostureReport) -> Result? {
        guard let measured = boot.measured else { return .unavailable("no verified quote yet (TPM2_Quote)") }
        switch measured.log {
        case .absent(let why):
            return .fail("Secure Boot unproven: no boot event log to read it from (\(why))")
        case .invalid(let why):
            return .fail("Secure Boot unproven: \(why)")
        case .replayed(_, let state, let problem):
            if let problem { return .fail("the event log's Secure Boot measurement is invalid: \(problem)") }
            guard let state else { return nil }
            if state { return .pass }
            let claimed =
                report.secureBoot.value?.enabled == true ? "; the OS reports it on, which firmware did not measure" : ""
            return .fail("Secure Boot off (measured by firmware into PCR 7\(claimed))")
        }
    }

    static func measuredBoot(
        _ pcrs: [Int], reference: [Int: [String]], keyProtection: KeyProtection, boot: BootEvidence?
    )
        -> Result
    {
        guard keyProtection == .tpm, let boot else {
            return .fail("device key: \(keyProtection): no TPM quotes what booted")
        }
        guard let measured = boot.measured else {
            return .unavailable("no verified quote yet (TPM2_Quote)")
        }
        var problems: [String] = []
        var compare: [Int] = []
        for index in pcrs {
            guard let value = measured.pcrs[index] else {
                problems.append("PCR \(index) was not quoted")
                continue
            }
            if let allowed = reference[index] {
                if !allowed.contains(value) {
                    problems.append("PCR \(index) \(value.prefix(16))… is not a reference value")
                }
            } else {
                compare.append(index)
            }
        }
        if !compare.isEmpty {
            guard let baseline = boot.baseline else {
                problems.append(
                    "no boot baseline recorded for PCR \(compare.map(String.init).joined(separator: ", ")): accept the current boot with `posturectl devices accept-boot DEVICE`"
                )
                return .fail(problems.joined(separator: "; "))
            }
            let changed = compare.filter { baseline[$0] != measured.pcrs[$0] }
            if !changed.isEmpty {
                problems.append(
                    "PCR \(changed.map(String.init).joined(separator: ", ")) changed since the recorded baseline (after a firmware or kernel update: `posturectl devices accept-boot DEVICE`)"
                )
            }
        }
        return problems.isEmpty ? .pass : .fail(problems.joined(separator: "; "))
    }

    static func expectation(_ check: Check) -> String {
        switch check {
        case .osVersion(let minimum, let allowOthers):
            let list = minimum.sorted { $0.key < $1.key }.map { "\($0.key) >= \($0.value)" }.joined(separator: ", ")
            return allowOthers ? list + " (other distributions allowed)" : list
        case .kernelVersion(let minimum): return "kernel >= \(minimum)"
        case .rootEncrypted: return "root filesystem encrypted"
        case .swapEncrypted: return "all swap encrypted"
        case .inboundFiltered(let families): return "inbound traffic filtered for \(families.joined(separator: ", "))"
        case .journalEvents(let categories, let max, let window):
            return
                "at most \(max) \(categories.map(\.rawValue).joined(separator: "+")) in \(Policy.age(window.seconds))"
        case .secureBoot: return "Secure Boot enabled"
        case .kernelLockdown(let minimum): return "lockdown >= \(minimum)"
        case .securityModule(let anyOf): return "one of \(anyOf.joined(separator: ", ")) active"
        case .sshd(let root, let password, let empty):
            var parts: [String] = []
            if let root { parts.append("PermitRootLogin in [\(root.joined(separator: ", "))]") }
            if let password { parts.append("PasswordAuthentication \(password ? "yes" : "no")") }
            if let empty { parts.append("PermitEmptyPasswords \(empty ? "yes" : "no")") }
            return "sshd: " + parts.joined(separator: ", ")
        case .noPendingReboot: return "no reboot pending"
        case .standingSudo(let allowed):
            return allowed.isEmpty
                ? "no standing sudo" : "standing sudo only for \(allowed.joined(separator: ", "))"
        case .securityUpdates(let maxPending, let maxPendingAge, let maxListsAge):
            var parts: [String] = []
            if let maxPending { parts.append("at most \(maxPending) security updates pending") }
            if let maxPendingAge { parts.append("none pending longer than \(Policy.age(maxPendingAge.seconds))") }
            if let maxListsAge { parts.append("package lists at most \(Policy.age(maxListsAge.seconds)) old") }
            return parts.joined(separator: ", ")
        case .runningKernelCurrent: return "running the newest installed kernel"
        case .maxRisk(let max): return "risk at most \(max)"
        case .screenLock(let maxIdle, let allowUnknown):
            return "graphical sessions idle over \(Policy.age(maxIdle.seconds)) locked"
                + (allowUnknown ? " (unknown lock state allowed)" : "")
        case .keyProtection(let minimum): return "device key protection >= \(minimum.rawValue)"
        case .measuredBoot(let pcrs, let reference):
            let pinned = reference.keys.sorted().map(String.init).joined(separator: ", ")
            return "PCR \(pcrs.map(String.init).joined(separator: ", ")) as recorded"
                + (pinned.isEmpty ? "" : " (PCR \(pinned): reference values)")
        }
    }

    static func unavailable<T>(_ fact: Fact<T>) -> Result {
        .unavailable("\(fact.unavailableReason ?? "unavailable") (\(fact.source))")
    }

    /// Compares dotted numeric versions (`12`, `22.04`, `6.1.0-13-amd64`); missing components are 0.
    static func compareVersions(_ a: String, _ b: String) -> Int {
        func parts(_ text: String) -> [Int] {
            var numbers: [Int] = []
            for piece in text.split(separator: ".", omittingEmptySubsequences: false) {
                let digits = piece.prefix { $0.isASCII && $0.isNumber }
                guard let number = Int(digits) else { break }
                numbers.append(number)
                if digits.count != piece.count { break }
            }
            return numbers
        }
        let (x, y) = (parts(a), parts(b))
        for index in 0..<max(x.count, y.count) {
            let (p, q) = (index < x.count ? x[index] : 0, index < y.count ? y[index] : 0)
            if p != q { return p < q ? -1 : 1 }
        }
        return 0
    }
}
