import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Whether an enrollment may proceed, over the token and the machine's active devices its transaction
/// read. Consuming a one-time token is not decided here: the store's conditional update is the referee
/// of two concurrent enrollments, and `tokenAlreadyUsed` words its refusal.
public enum EnrollmentDecision {
    public static func checkToken(_ token: TokenRecord?, now: Date) -> AttestationRefusal? {
        guard let token else {
            return AttestationRefusal(
                .tokenInvalid,
                "the enrollment token is not known to this collector; create one with `posture-collector token create`")
        }
        guard token.expiresAt > now else {
            return AttestationRefusal(
                .tokenExpired,
                "the enrollment token expired at \(token.expiresAt); create a new one with `posture-collector token create`"
            )
        }
        return nil
    }

    public static let tokenAlreadyUsed = AttestationRefusal(
        .tokenUsed,
        "the one-time enrollment token was already used; create another with `posture-collector token create`")

    /// A machine already enrolled is enrolled again only with a token that allows it; its devices are
    /// then replaced.
    public static func checkMachine(_ machineID: String, activeDevices: [String], token: TokenRecord)
        -> AttestationRefusal?
    {
        guard !activeDevices.isEmpty, !token.allowReenroll else { return nil }
        return AttestationRefusal(
            .machineAlreadyEnrolled,
            "machine-id \(machineID) is already enrolled as device \(activeDevices.joined(separator: ", ")); revoke it (`posture-collector devices revoke ID --reason WHY`) or create a token with --allow-reenroll"
        )
    }

    /// The device's labels: the token's, overridden by those the device asked for.
    public static func labels(token: TokenRecord, device: DeviceRecord) -> [String: String] {
        token.labels.merging(device.labels) { _, requested in requested }
    }
}
