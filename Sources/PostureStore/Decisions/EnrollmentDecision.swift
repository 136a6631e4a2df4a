import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Whether an enrollment may proceed, over the token and the machine's active devices its transaction
/// read. Consuming a one-time token is not decided here: the store's conditional update is the referee
/// of two concurrent enrollments (`StoreRefusal.tokenUsed`).
public enum EnrollmentDecision {
    public static func checkToken(_ token: TokenRecord?, now: Date) -> StoreRefusal? {
        guard let token else { return .tokenUnknown }
        guard token.expiresAt > now else { return .tokenExpired(at: token.expiresAt) }
        return nil
    }

    /// A machine already enrolled is enrolled again only with a token that allows it; its devices are
    /// then replaced.
    public static func checkMachine(_ machineID: String, activeDevices: [String], token: TokenRecord)
        -> StoreRefusal?
    {
        guard !activeDevices.isEmpty, !token.allowReenroll else { return nil }
        return .machineEnrolled(machineID: machineID, devices: activeDevices)
    }

    /// The device's labels: the token's, overridden by those the device asked for.
    public static func labels(token: TokenRecord, device: DeviceRecord) -> [String: String] {
        token.labels.merging(device.labels) { _, requested in requested }
    }
}
