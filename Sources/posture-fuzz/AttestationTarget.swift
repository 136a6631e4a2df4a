#if DEBUG
    import Foundation
    import PostureModel

    /// A signed payload's JSON, as if its signature had verified: decode with the wire decoder, then every
    /// place that checks, renders or evaluates it.
    enum AttestationTarget {
        static func run(_ input: [UInt8]) -> String {
            let decoder = PostureReport.wireDecoder()
            guard let payload = try? decoder.decode(AttestationPayload.self, from: Data(input)) else {
                // A bare report: `policy test --report FILE`, a stored report read back.
                guard let report = try? decoder.decode(PostureReport.self, from: Data(input)) else {
                    return "not an attestation or a report"
                }
                let verdict = ReportUse.exercise(report, issuedAt: report.collectedAt)
                return "report, verdict \(verdict?.status.rawValue ?? "-")"
            }
            var limits = "within limits"
            do {
                try PayloadLimits.check(payload)
            } catch {
                if Fixtures.respectLimits { return "outside the limits: \(error.message)" }
                limits = "outside the limits: \(error.message)"
            }
            _ = try? StrictJSON.check(input)
            let verdict = ReportUse.exercise(payload.report, issuedAt: payload.issuedAt, deviceID: payload.deviceID)
            return "attestation (\(limits)), verdict \(verdict?.status.rawValue ?? "-")"
        }
    }
#endif
