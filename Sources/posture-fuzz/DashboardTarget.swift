#if DEBUG
    import Foundation
    @testable import PostureCollector
    import PostureAPI
    import PostureModel
    @testable import PostureStore

    /// The dashboard's device page for a device whose newest report is the input (an AttestationPayload, or a
    /// bare report): the verdict under the shipped policy, DashboardPages.device, and the Mustache template
    /// the collector serves, without a server; and the same detail as the fleet API answers it, through the
    /// type generated from openapi.yaml: a report the collector accepts must never make a device's page fail.
    enum DashboardTarget {
        static let renderer: DashboardRenderer = {
            do {
                return try DashboardRenderer()
            } catch {
                fatalError("the dashboard templates do not compile: \(error)")
            }
        }()

        static func run(_ input: [UInt8]) -> String {
            let decoder = PostureReport.wireDecoder()
            let report: PostureReport
            var issuedAt = Fixtures.now
            var deviceID = Fixtures.deviceID
            if let payload = try? decoder.decode(AttestationPayload.self, from: Data(input)) {
                report = payload.report
                issuedAt = payload.issuedAt
                deviceID = payload.deviceID
            } else if let bare = try? decoder.decode(PostureReport.self, from: Data(input)) {
                report = bare
            } else {
                return "not an attestation or a report"
            }
            let withinLimits = (try? PayloadLimits.check(report)) != nil
            if Fixtures.respectLimits, !withinLimits { return "outside the limits" }
            let verdict = ReportUse.exercise(report, issuedAt: issuedAt, deviceID: deviceID)
            let osRelease = report.os.osRelease.value
            let device = FleetDevice(
                id: deviceID, hostname: "host-1",
                machineID: report.os.machineID.value ?? Fixtures.machineID, labels: ["team": "web"],
                state: "active", enrolledAt: Fixtures.now, verdict: verdict?.status.rawValue,
                verdictSince: verdict?.evaluatedAt, failing: verdict?.failing.map(\.rule) ?? [],
                quarantined: verdict?.quarantine != nil, os: osRelease?["ID"], osVersion: osRelease?["VERSION_ID"],
                lastSeen: issuedAt)
            let detail = DeviceDetail(
                device: device, verdict: verdict, report: report, reportIssuedAt: issuedAt,
                verdictChanges: [
                    DeviceDetail.Change(
                        at: issuedAt, previousStatus: nil, status: verdict?.status.rawValue ?? "unknown",
                        cause: "report")
                ],
                attestations: [], enforcement: [], refusals: [], certificates: [],
                key: DeviceDetail.KeyInfo(protection: "tpm", endorsementFingerprint: String(repeating: "0", count: 64)))
            if withinLimits {
                do {
                    _ = try Wire.convert(detail, to: Components.Schemas.DeviceDetail.self)
                } catch {
                    fatalError("GET /v1/devices/{id} would fail for an accepted report: \(error)")
                }
            }
            var values = DashboardPages.device(detail)
            values["user"] = "fuzz"
            values["csrf"] = "csrf"
            values["canWrite"] = true
            let html = renderer.render("device", values)
            return "\(html.utf8.count) bytes of HTML"
        }
    }
#endif
