/// Where a device key lives. Ordered: a policy's `minimum` compares with it.
public enum KeyProtection: String, Codable, Sendable, Comparable, CaseIterable {
    /// A key file on disk: whoever copies the state directory can sign as the device.
    case software
    /// Made inside a TPM 2.0 and not exportable (fixedTPM): only that TPM signs with it.
    case tpm

    private var rank: Int {
        switch self {
        case .software: 0
        case .tpm: 1
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }
}
