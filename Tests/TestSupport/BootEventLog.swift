import Crypto
import Foundation

/// A TCG crypto-agile boot event log (SHA-256 bank) as firmware writes one, for a software TPM that has no
/// firmware: the test extends the TPM's PCRs with the same digests (`SoftwareTPM.extend`), so the quote and
/// the log agree the way they do on a real machine.
public struct BootEventLog: Sendable {
    public struct Event: Sendable {
        public var pcr: UInt32
        public var type: UInt32
        public var data: [UInt8]
        public var digest: [UInt8] { Array(SHA256.hash(data: data)) }

        public init(pcr: UInt32, type: UInt32, data: [UInt8]) {
            self.pcr = pcr
            self.type = type
            self.data = data
        }
    }

    public var events: [Event] = []

    public init() {}

    public static let evSeparator: UInt32 = 0x4
    public static let evAction: UInt32 = 0x5
    public static let evEFIVariableDriverConfig: UInt32 = 0x8000_0001
    public static let evPostCode: UInt32 = 0x1
    public static let evIPL: UInt32 = 0xd

    /// A UEFI boot: firmware in PCR 0, the Secure Boot variable in PCR 7, a boot loader in PCR 4, a kernel
    /// command line in PCR 8, separators on 0-7.
    public static func uefi(secureBoot: Bool) -> BootEventLog {
        var log = BootEventLog()
        log.append(pcr: 0, type: evPostCode, Array("platform firmware".utf8))
        log.append(pcr: 7, type: evEFIVariableDriverConfig, secureBootVariable(enabled: secureBoot))
        for pcr in UInt32(0)...7 { log.append(pcr: pcr, type: evSeparator, [0, 0, 0, 0]) }
        log.append(pcr: 4, type: evIPL, Array("shimx64.efi".utf8))
        log.append(pcr: 4, type: evIPL, Array("grubx64.efi".utf8))
        log.append(pcr: 8, type: evIPL, Array("kernel_cmdline: root=/dev/vda ro".utf8))
        return log
    }

    public mutating func append(pcr: UInt32, type: UInt32, _ data: [UInt8]) {
        events.append(Event(pcr: pcr, type: type, data: data))
    }

    /// UEFI_VARIABLE_DATA for EFI_GLOBAL_VARIABLE "SecureBoot".
    public static func secureBootVariable(enabled: Bool) -> [UInt8] {
        let guid: [UInt8] = [
            0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c,
        ]
        let name = Array("SecureBoot".utf16).flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }
        return guid + le64(10) + le64(1) + name + [enabled ? 1 : 0]
    }

    /// The log's bytes: the Spec ID event (SHA-1 format, naming SHA-256 only), then each event.
    public var bytes: [UInt8] {
        var specID = Array("Spec ID Event03".utf8) + [0]
        specID += le32(0) + [0, 2, 0, 2]  // platformClass, version 2.0, errata, uintnSize 2
        specID += le32(1) + le16(0x000B) + le16(32) + [0]
        var out = le32(0) + le32(3) + [UInt8](repeating: 0, count: 20) + le32(UInt32(specID.count)) + specID
        for event in events {
            out += le32(event.pcr) + le32(event.type) + le32(1) + le16(0x000B) + event.digest
            out += le32(UInt32(event.data.count)) + event.data
        }
        return out
    }

    public func write(to path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }
}

private func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xff), UInt8(value >> 8)] }
private func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8((value >> (8 * $0)) & 0xff) } }
private func le64(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8((value >> (8 * UInt64($0))) & 0xff) } }

extension SoftwareTPM {
    /// Extends the TPM's SHA-256 PCRs with each event's digest, as firmware does while it boots (tpm2-tools,
    /// so only while no agent holds the TPM).
    public func extend(_ events: [BootEventLog.Event]) throws {
        for event in events {
            let hex = event.digest.map { String(format: "%02x", $0) }.joined()
            try tool(["tpm2_pcrextend", "\(event.pcr):sha256=\(hex)"])
        }
    }
}
