#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Renders a report for a person at a terminal: one line per fact, unavailable facts with their reason.
public enum ReportTable {
    public static func render(_ report: PostureReport) -> String {
        var out = Lines()
        out.section("Operating system")
        let os = report.os
        out.row("name", os.osRelease.map { $0["PRETTY_NAME"] ?? $0["NAME"] ?? "?" })
        out.row("kernel", os.kernelRelease)
        out.row("architecture", os.architecture)
        out.row("machine-id", os.machineID)
        out.row("boot-id", os.bootID)
        out.row("uptime", os.uptimeSeconds.map { formatDuration($0) })
        out.row(
            "reboot required",
            os.rebootRequired.map { $0.required ? "yes: " + $0.reasons.joined(separator: "; ") : "no" })

        out.section("Disk encryption")
        switch report.diskEncryption {
        case .unavailable(let reason, _):
            out.line("  unavailable: \(reason)")
        case .observed(let disk, _):
            out.row("root encrypted", disk.rootEncrypted.map(yesNo))
            if let home = disk.homeEncrypted { out.row("/home encrypted", home.map(yesNo)) }
            out.row("all swap encrypted", disk.allSwapEncrypted.map(yesNo))
            for volume in disk.volumes {
                let chain = volume.devices.map(describe).joined(separator: " + ")
                out.line("  \(volume.mountPoints.joined(separator: ", ")) [\(volume.fsType)] \(chain)")
            }
            for swap in disk.swaps {
                out.line(
                    "  swap \(swap.path) (\(swap.kind.rawValue)) \(swap.devices.map(describe).joined(separator: " + "))"
                )
            }
        }

        out.section("Firewall")
        let firewall = report.firewall
        out.row("inbound filtered", firewall.inboundFiltered.map { "IPv4 \(yesNo($0.ipv4)), IPv6 \(yesNo($0.ipv6))" })
        out.row("frameworks", firewall.activeFrameworks.map { $0.isEmpty ? "none" : $0.joined(separator: ", ") })
        out.row(
            "nftables",
            firewall.nftables.map { ruleset in
                ruleset.tables.isEmpty
                    ? "no tables"
                    : "\(ruleset.tables.count) tables, "
                        + "\(ruleset.tables.map { $0.chains.map(\.ruleCount).saturatingSum() }.saturatingSum()) rules"
            })
        if case .observed(let ruleset, _) = firewall.nftables {
            for table in ruleset.tables {
                for chain in table.chains where chain.isBaseChain {
                    out.line(
                        "  \(table.family) \(table.name) \(chain.name): hook \(chain.hook ?? "?") priority "
                            + "\(chain.priority.map(String.init) ?? "?") policy \(chain.policy ?? "accept"), \(chain.ruleCount) rules"
                    )
                }
            }
        }
        out.row("iptables-legacy", firewall.iptablesLegacy.map { $0.hasRules ? "rules present" : "no rules" })

        out.section("Journal")
        switch report.journal {
        case .unavailable(let reason, _):
            out.line("  unavailable: \(reason)")
        case .observed(let journal, _):
            out.line("  \(journal.journal): \(journal.entriesExamined) relevant entries")
            for category in JournalEventCategory.allCases {
                out.line("  \(pad(category.rawValue, 22)) \(journal.counts[category] ?? 0)")
            }
            if let cursor = journal.cursor { out.line("  cursor: \(cursor)") }
        }

        out.section("Platform")
        out.row("secure boot", report.secureBoot.map { "\($0.firmware), \($0.enabled ? "enabled" : "disabled")" })
        out.row("kernel lockdown", report.kernelLockdown.map(\.mode))
        out.row(
            "security modules",
            report.securityModules.map { modules in
                var parts = [modules.active.isEmpty ? "-" : modules.active.joined(separator: ",")]
                if let apparmor = modules.appArmor {
                    parts.append("AppArmor \(apparmor.enabled ? "enabled" : "disabled")")
                }
                if let selinux = modules.selinux {
                    parts.append("SELinux \(selinux.enforcing ? "enforcing" : "permissive")")
                }
                return parts.joined(separator: "; ")
            })
        out.row(
            "sshd",
            report.sshd.map { sshd in
                "\(sshd.installed ? "installed" : "not installed"); PermitRootLogin \(sshd.permitRootLogin), "
                    + "PasswordAuthentication \(yesNo(sshd.passwordAuthentication))"
            })
        if let sudo = report.sudo {
            out.row(
                "standing sudo",
                sudo.map { sudo in
                    guard sudo.installed || !sudo.rules.isEmpty else { return "not installed" }
                    let standing = sudo.standingUsers.isEmpty ? "nobody" : sudo.standingUsers.joined(separator: ", ")
                    return
                        "\(standing); \(sudo.postureGrants) Posture grant\(sudo.postureGrants == 1 ? "" : "s") in force"
                })
        }
        if let tpm = report.tpm {
            out.row(
                "TPM",
                tpm.map { tpm in
                    let what =
                        tpm.present
                        ? "TPM 2.0" + (tpm.manufacturer.map { " \($0)" } ?? "")
                            + (tpm.firmwareVersion.map { " firmware \($0)" } ?? "")
                        : "none"
                    return "\(what); device key in \(tpm.deviceKey == .tpm ? "the TPM" : "software")"
                })
        }
        if let patches = report.patches {
            out.section("Patches")
            out.row(
                "packages",
                patches.packages.map { packages in
                    let lists = packages.listsUpdatedAt.map { "lists of \(day($0))" } ?? "no package lists"
                    return "\(packages.installed) installed, \(packages.pending) upgradable, "
                        + "\(packages.pendingSecurity) security (\(lists))"
                })
            if let packages = patches.packages.value {
                for update in packages.security.prefix(10) {
                    out.line(
                        "  \(pad(update.package, 20)) \(update.installed) -> \(update.candidate) (\(update.origin), "
                            + "since \(day(update.since)))")
                }
                if packages.security.count > 10 { out.line("  … \(packages.security.count - 10) more") }
            }
            out.row(
                "kernel",
                patches.kernel.map { kernel in
                    kernel.current
                        ? "\(kernel.running), the newest installed"
                        : "\(kernel.running) running, \(kernel.newestInstalled) installed (reboot into it)"
                })
        }
        if let agent = report.agent {
            out.section("Agent")
            out.line("  \(pad("enforcement", 20)) \(agent.enforcement), a report every \(agent.intervalSeconds)s")
        }
        if let sessions = report.sessions {
            out.section("Sessions")
            out.row(
                "sessions",
                sessions.map { facts in
                    let graphical = facts.sessions.filter(\.graphical).count
                    return "\(facts.total) (\(graphical) graphical)"
                })
            for session in sessions.value?.sessions.prefix(20) ?? [] {
                var words = [session.type, session.remote ? "remote" : "local", session.active ? "active" : "inactive"]
                if session.idle {
                    words.append(
                        session.idleSince.map { "idle \(formatDuration(report.collectedAt.timeIntervalSince($0)))" }
                            ?? "idle")
                }
                if session.locked != .notApplicable { words.append(session.locked.rawValue) }
                if let desktop = session.desktop { words.append(desktop) }
                out.line("  \(pad(session.id, 6)) \(pad(session.user, 14)) \(words.joined(separator: ", "))")
            }
        }
        return out.text
    }

    private struct Lines {
        var text = ""
        mutating func section(_ title: String) { text += (text.isEmpty ? "" : "\n") + title + "\n" }
        mutating func line(_ line: String) { text += line + "\n" }
        mutating func row(_ label: String, _ fact: Fact<String>) {
            switch fact {
            case .observed(let value, _): line("  \(pad(label, 20)) \(value)")
            case .unavailable(let reason, _): line("  \(pad(label, 20)) unknown (\(reason))")
            }
        }
    }

    private static func describe(_ device: BlockDevice) -> String {
        var label = "\(device.name) \(device.encryption?.rawValue ?? device.kind.rawValue)"
        if let file = device.backingFile { label += " of \(file)" }
        guard !device.lower.isEmpty else { return label }
        return label + " > " + device.lower.map(describe).joined(separator: " + ")
    }

    /// `2026-12-04`: a date a person reads, from a value checked against the ranges (clamped otherwise).
    private static func day(_ date: Date) -> String {
        let seconds = Swift.min(Swift.max(date.timeIntervalSince1970, -62_167_219_200), 253_402_300_799)
        return String(Timestamp(microsecondsSinceEpoch: Int64(seconds) * 1_000_000).description.prefix(10))
    }

    private static func yesNo(_ value: Bool) -> String { value ? "yes" : "no" }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    private static func formatDuration(_ seconds: Double) -> String {
        let total = Swift.max(seconds.saturatingInt, 0)
        return "\(total / 86400)d \(total % 86400 / 3600)h \(total % 3600 / 60)m"
    }
}
