import PostureLinux
import PostureModel

/// UEFI Secure Boot state from efivarfs: each variable is 4 bytes of attributes, then its data.
public struct SecureBootProbe: Probe {
    static let globalVariableGUID = "8be4df61-93ca-11d2-aa0d-00e098032b8c"
    static let source = "/sys/firmware/efi/efivars/SecureBoot-\(globalVariableGUID)"

    public init() {}

    public func collect(in context: ProbeContext) -> Fact<SecureBootFacts> {
        let root = context.root
        guard root.exists("/sys/firmware/efi") else {
            // No EFI runtime: the machine booted through legacy BIOS (or a firmware without UEFI).
            return .observed(
                SecureBootFacts(firmware: "bios", enabled: false, setupMode: nil), source: "/sys/firmware/efi")
        }
        return .reading(Self.source) {
            guard root.exists("/sys/firmware/efi/efivars/SecureBoot-\(Self.globalVariableGUID)") else {
                if !root.exists("/sys/firmware/efi/efivars/")
                    || (try? root.contentsOfDirectory("/sys/firmware/efi/efivars"))?.isEmpty != false
                {
                    throw ProbeError(
                        "efivarfs is not mounted at /sys/firmware/efi/efivars (mount -t efivarfs efivarfs /sys/firmware/efi/efivars)"
                    )
                }
                // UEFI without the variable: firmware that does not implement Secure Boot.
                return SecureBootFacts(firmware: "uefi", enabled: false, setupMode: nil)
            }
            let enabled = try flag("SecureBoot", root)
            let setupMode = try? flag("SetupMode", root)
            return SecureBootFacts(firmware: "uefi", enabled: enabled && setupMode != true, setupMode: setupMode)
        }
    }

    private func flag(_ name: String, _ root: HostRoot) throws -> Bool {
        let bytes = try root.readBytes("/sys/firmware/efi/efivars/\(name)-\(Self.globalVariableGUID)", limit: 64)
        guard bytes.count == 5 else {
            throw ProbeError("EFI variable \(name) has \(bytes.count) bytes, expected 4 of attributes and 1 of data")
        }
        return bytes[4] == 1
    }
}
