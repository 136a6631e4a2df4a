/// The TPM as the agent sees it, and where the key that signed the report lives. What the device says:
/// the collector's `keyProtection` is what enrollment proved, and a policy rule reads that, not this.
public struct TPMFacts: Codable, Sendable, Equatable {
    /// A TPM 2.0 is there (`/sys/class/tpm/tpm0` with major version 2, or the agent's configured TCTI).
    public var present: Bool
    /// The TCG vendor ID as text ("IBM", "INTC", "STM", "NTC", "MSFT"), when the agent talks to the TPM.
    public var manufacturer: String?
    public var vendor: String?
    /// TPM2_PT_FIRMWARE_VERSION_1 and _2, as four dotted 16-bit numbers.
    public var firmwareVersion: String?
    /// Where the key that signed this report lives.
    public var deviceKey: KeyProtection
    /// SHA-256 PCRs 0–9 as the TPM read them when the report was signed, lowercase hex. The envelope's
    /// quote covers their digest; the collector trusts them only once that quote verified.
    public var pcrs: [String]?
    /// The firmware's boot event log (`binary_bios_measurements`, TCG crypto-agile), base64.
    public var eventLog: String?
    /// Why there is no event log (no firmware log on this machine, not readable).
    public var eventLogUnavailable: String?

    public init(
        present: Bool, manufacturer: String? = nil, vendor: String? = nil, firmwareVersion: String? = nil,
        deviceKey: KeyProtection
    ) {
        self.present = present
        self.manufacturer = manufacturer
        self.vendor = vendor
        self.firmwareVersion = firmwareVersion
        self.deviceKey = deviceKey
    }
}
