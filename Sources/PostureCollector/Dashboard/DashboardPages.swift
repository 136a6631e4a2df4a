import Hummingbird
import PostureModel
import PostureStore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What each dashboard template shows, as the dictionaries Mustache renders.
enum DashboardPages {
    /// Messages after an action's redirect (`?done=`): fixed texts, so a link cannot make the page say
    /// anything else.
    static let done = [
        "quarantine": "Quarantined: the device is non-compliant until released.",
        "release": "Released: the device's report decides its verdict again.",
        "waiver": "Waiver granted.",
    ]

    static func overview(_ summary: FleetSummary) -> [String: Any] {
        let ruleMax = summary.byFailingRule.map(\.devices).max() ?? 1
        let trendMax = max(summary.trend.map(\.becameNoncompliant).max() ?? 1, 1)
        let stages = summary.byStage ?? [:]
        let stageMax = max(stages.values.max() ?? 1, 1)
        return [
            "hasStages": summary.byStage != nil,
            "stages": ["traditional", "initial", "advanced", "optimal"].map {
                [
                    "stage": $0, "label": $0.prefix(1).uppercased() + $0.dropFirst(), "devices": stages[$0] ?? 0,
                    "max": stageMax,
                ] as [String: Any]
            },
            "title": "Fleet", "devices": summary.devices, "noncompliant": summary.byVerdict["noncompliant"] ?? 0,
            "compliant": summary.byVerdict["compliant"] ?? 0,
            "unknown": (summary.byVerdict["unknown"] ?? 0) + (summary.byVerdict["none"] ?? 0),
            "quarantined": summary.quarantined, "silent": summary.silent,
            "hasRules": !summary.byFailingRule.isEmpty,
            "rules": summary.byFailingRule.map {
                ["key": $0.key, "devices": $0.devices, "max": ruleMax, "query": Form.encode($0.key)] as [String: Any]
            },
            "systems": summary.byOS.map { ["key": $0.key, "devices": $0.devices] as [String: Any] },
            "trend": summary.trend.reversed().map {
                [
                    "day": $0.day, "becameNoncompliant": $0.becameNoncompliant,
                    "becameCompliant": $0.becameCompliant, "max": trendMax,
                ] as [String: Any]
            },
        ]
    }

    static let filterNames = [
        "verdict", "failingRule", "label", "os", "osVersion", "hostname", "seenBefore",
        "seenAfter", "state", "sort", "order",
    ]

    static func devices(_ page: FleetPage, parameters: Parameters) -> [String: Any] {
        let now = Date()
        var filter: [String: String] = [:]
        for name in filterNames { if let value = parameters[Substring(name)] { filter[name] = String(value) } }
        let verdicts = [
            ("", "Any"), ("noncompliant", "Non-compliant"), ("compliant", "Compliant"),
            ("unknown", "Unknown"), ("none", "Not evaluated"),
        ].map { value, label in
            ["value": value, "label": label, "selected": filter["verdict", default: ""] == value] as [String: Any]
        }
        var next: String?
        if let cursor = page.nextCursor {
            let carried = filter.sorted { $0.key < $1.key }.filter { !$0.value.isEmpty }
                .map { "\($0.key)=\(Form.encode($0.value))" }
            next = "/ui/devices?" + (carried + ["cursor=\(Form.encode(cursor))"]).joined(separator: "&")
        }
        var values: [String: Any] = [
            "title": "Devices", "filter": filter, "verdicts": verdicts,
            "devices": page.devices.map { row(for: $0, now: now) },
        ]
        // Absent, not nil-in-Any: Mustache would take a wrapped nil for a value and show the link.
        if let next { values["next"] = next }
        return values
    }

    static func row(for device: FleetDevice, now: Date) -> [String: Any] {
        [
            "id": device.id, "hostname": device.hostname, "verdict": device.verdict ?? "none",
            "quarantined": device.quarantined,
            "since": device.verdictSince.map { DurationText.age(of: $0, now: now) } ?? "-",
            "seen": DurationText.age(of: device.lastSeen, now: now) + (device.lastSeen == nil ? "" : " ago"),
            "failing": device.failing.joined(separator: ", "),
            "os": [device.os, device.osVersion].compactMap { $0 }.joined(separator: " "),
        ]
    }

    static func device(_ detail: DeviceDetail) -> [String: Any] {
        let now = Date()
        var values = row(for: detail.device, now: now)
        let verdict = detail.verdict
        let outcomes = (verdict?.failing ?? []) + (verdict?.unknown ?? []) + (verdict?.excused ?? [])
        values["title"] = detail.device.hostname
        values["state"] = detail.device.state
        values["keyProtection"] =
            detail.key.endorsementFingerprint.map { "TPM (endorsement sha256:\($0.prefix(16))…)" }
            ?? (detail.key.protection == "tpm" ? "TPM" : "software (not proven to be in a TPM)")
        if let boot = detail.boot {
            let baseline = MeasuredBoot.baselineWording(recorded: boot.baselineRecorded, changed: boot.changedPCRs)
            let secureBoot = boot.secureBoot.map { "; Secure Boot \($0 ? "on" : "off") (measured by firmware)" } ?? ""
            values["boot"] =
                "PCR 0-9 quoted by the TPM: \(baseline); event log \(boot.eventLog)\(boot.eventLogDetail.map { " (\($0))" } ?? "")\(secureBoot)"
        }
        if let maturity = detail.maturity {
            var shown: [String: Any] = [
                "stage": maturity.stage.rawValue.prefix(1).uppercased() + maturity.stage.rawValue.dropFirst(),
                "missing": maturity.missing,
            ]
            // Absent, not nil-in-Any (as `next` in `devices`).
            if let next = maturity.next { shown["next"] = next.rawValue }
            values["maturity"] = shown
        }
        values["labels"] = detail.device.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            .joined(separator: " ")
        values["hasOutcomes"] = !outcomes.isEmpty
        values["risk"] = verdict?.risk ?? 0
        values["riskReasons"] = verdict?.riskReasons ?? []
        values["hasRiskReasons"] = !(verdict?.riskReasons ?? []).isEmpty
        values["outcomes"] = outcomes.map {
            [
                "rule": $0.rule, "severity": $0.severity.rawValue, "state": $0.state.rawValue,
                "observed": $0.observed, "expected": $0.expected,
            ]
        }
        let waivable = verdict?.failing.map(\.rule) ?? []
        values["hasWaivable"] = !waivable.isEmpty
        values["waivable"] = waivable
        if let quarantine = verdict?.quarantine {
            values["quarantine"] = ["by": quarantine.by, "reason": quarantine.reason]
        }
        values["changes"] = detail.verdictChanges.map {
            [
                "at": $0.at.formatted(.iso8601), "previous": $0.previousStatus ?? "-", "status": $0.status,
                "cause": $0.cause,
            ]
        }
        values["events"] = (detail.enforcement + detail.refusals).sorted { $0.at > $1.at }.prefix(50).map {
            ["at": $0.at.formatted(.iso8601), "code": $0.code, "message": $0.message]
        }
        values["facts"] = detail.report.map(ReportTable.render) ?? "No accepted report yet."
        return values
    }

    /// The device's just-in-time grants, newest first; a pending sudo request can be decided here.
    static func access(_ grants: [AccessGrantRecord], now: Date) -> [String: Any] {
        let rows: [[String: Any]] = grants.compactMap { record in
            guard let grant = FleetAPIHandlers.grant(record, now: now) else { return nil }
            let detail = grant.detail.additionalProperties
            let what =
                grant.kind == .ssh
                ? "as " + (detail["principals"] ?? "")
                : (detail["commands"] ?? "").split(separator: "\n").joined(separator: ", ")
            return [
                "id": String(grant.id), "kind": grant.kind.rawValue, "user": grant.user, "grant": grant.grant,
                "status": grant.status.rawValue, "until": grant.validUntil?.formatted(.iso8601) ?? "-",
                "what": what, "reason": detail["reason"] ?? "", "pending": grant.status == .pending,
            ]
        }
        return ["grants": rows, "hasGrants": !rows.isEmpty]
    }
}
