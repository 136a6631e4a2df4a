import PostureModel
import PostureVerdict

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The signed verdict a policy engine relies on: a JWT (ES256) whose `exp` is how long it may be relied on.
/// Explicitly typed (RFC 8725 §3.11) and with its own audience, so that neither a Security Event Token
/// nor any other JWT the collector signs can be taken for a verdict.
enum VerdictToken {
    static func sign(_ verdict: Verdict, entry: VerdictService.Entry, service: isolated VerdictService, now: Date)
        throws -> String
    {
        let claims = VerdictClaims(
            iss: service.issuer, sub: verdict.deviceID, iat: now.timeIntervalSince1970.saturatingInt,
            nbf: now.timeIntervalSince1970.saturatingInt - 5,
            exp: verdict.validUntil.timeIntervalSince1970.saturatingInt,
            jti: UUID().uuidString.lowercased(), status: verdict.status.rawValue,
            failingRules: verdict.failing.map(\.rule), unknown: verdict.unknown.map(\.rule), risk: verdict.risk,
            policy: verdict.policyVersion, verdictVersion: verdict.version,
            verdictRevision: verdict.revision, quarantine: verdict.quarantine?.reason,
            device: VerdictClaims.Device(
                id: verdict.deviceID,
                spiffeID: DeviceIdentity(trustDomain: service.trustDomain, deviceID: verdict.deviceID).uri,
                machineID: entry.machineID, hostname: entry.hostname))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try service.keys.sign(claims: try encoder.encode(claims), type: VerdictClaims.type)
    }
}
