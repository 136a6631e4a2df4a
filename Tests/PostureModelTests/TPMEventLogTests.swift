import Crypto
import Foundation
import PostureModel
import TestSupport
import Testing

/// The crypto-agile event log parser and its replay, on a log a real firmware wrote and on logs built to be
/// wrong in each way a device could send one.
struct TPMEventLogTests {
    /// SeaBIOS 1.16 under QEMU 7.2 with swtpm behind `tpm-tis`, read by the guest kernel from
    /// /sys/kernel/security/tpm0/binary_bios_measurements; the PCR values are what the same guest's kernel
    /// read from the TPM (/sys/class/tpm/tpm0/pcr-sha256/N), the oracle.
    static let seabios = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/seabios-qemu-tpm-tis.eventlog")
    static let guestPCRs = [
        "E21B703EE69C77476BCCB43EC0336A9A1B2914B378944F7B00A10214CA8FEA93",
        "A707F9EB6AF3B750BC1A5F0CEFDE4DAC704918C23A1B1984D1D3014F7FD24485",
        "6DFBDC4EDDD2202B37210716B8DA0261E2F6DAEEF37D0A2D6804E1B62B2A1CCD",
        "E21B703EE69C77476BCCB43EC0336A9A1B2914B378944F7B00A10214CA8FEA93",
        "1EB9AA21337CC1FA31CE5F56900D7BF59B9DDA366823095AED06544CAA2557CA",
        "E21B703EE69C77476BCCB43EC0336A9A1B2914B378944F7B00A10214CA8FEA93",
        "E21B703EE69C77476BCCB43EC0336A9A1B2914B378944F7B00A10214CA8FEA93",
        "E21B703EE69C77476BCCB43EC0336A9A1B2914B378944F7B00A10214CA8FEA93",
        String(repeating: "0", count: 64), String(repeating: "0", count: 64),
    ].map { $0.lowercased() }

    @Test func aRealFirmwareLogReplaysToThePCRsItsTPMHeld() throws {
        let bytes = Array(try Data(contentsOf: Self.seabios))
        let log = try TPMEventLog(bytes)
        #expect(log.events.count == 14)
        #expect(Array(log.replayedPCRs.prefix(10).map(\.hex)) == Self.guestPCRs)
        #expect(try log.secureBoot() == nil, "BIOS firmware measures no Secure Boot variable")
        let boot = MeasuredBoot(
            pcrs: Self.guestPCRs, eventLog: Data(bytes).base64EncodedString(), unavailable: nil)
        #expect(boot.log == .replayed(events: 14, secureBoot: nil, secureBootProblem: nil))
        #expect(boot.secureBoot == nil)
    }

    /// tpm2-tools' replay (its "pcrs:" section), by PCR index, as an independent reader of a log file.
    static func tpm2EventlogPCRs(_ path: String) throws -> [Int: String] {
        var values: [Int: String] = [:]
        for line in try Shell.run(["tpm2_eventlog", path]).stdout.split(separator: "\n") {
            let words = line.split(separator: " ")
            guard words.count == 3, words[1] == ":", let index = Int(words[0]), words[2].hasPrefix("0x") else {
                continue
            }
            values[index] = String(words[2].dropFirst(2)).lowercased()
        }
        return values
    }

    @Test(Requirement.available(programs: ["tpm2_eventlog"]))
    func tpm2ToolsReplaysTheSameLogsToTheSameValues() throws {
        let seabios = try Self.tpm2EventlogPCRs(Self.seabios.path)
        #expect(seabios.count == 8)
        for (index, value) in seabios { #expect(Self.guestPCRs[index] == value, "PCR \(index)") }
        // The UEFI logs the end-to-end tests extend into swtpm: tpm2-tools reads them as this parser does.
        let path = NSTemporaryDirectory() + "posture-uefi-\(UUID().uuidString).eventlog"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let uefi = BootEventLog.uefi(secureBoot: true)
        try uefi.write(to: path)
        let replayed = try TPMEventLog(uefi.bytes).replayedPCRs
        let tools = try Self.tpm2EventlogPCRs(path)
        #expect(!tools.isEmpty)
        for (index, value) in tools { #expect(replayed[index].hex == value, "PCR \(index)") }
    }

    @Test func aUEFILogSaysWhetherFirmwareMeasuredSecureBootOn() throws {
        for enabled in [true, false] {
            let log = try TPMEventLog(BootEventLog.uefi(secureBoot: enabled).bytes)
            #expect(try log.secureBoot() == enabled)
        }
    }

    @Test func aLogThatDoesNotMatchTheQuoteIsTrustedForNothing() throws {
        let bytes = BootEventLog.uefi(secureBoot: true).bytes
        let quoted = try TPMEventLog(BootEventLog.uefi(secureBoot: false).bytes).replayedPCRs.prefix(10).map(\.hex)
        let boot = MeasuredBoot(pcrs: quoted, eventLog: Data(bytes).base64EncodedString(), unavailable: nil)
        guard case .invalid(let why) = boot.log else {
            Issue.record("\(boot.log)")
            return
        }
        #expect(why.contains("PCR 7"), "\(why)")
        #expect(boot.secureBoot == nil)
    }

    @Test func aSecureBootEventWhoseDataDoesNotHashToItsDigestIsRefused() throws {
        var bytes = BootEventLog.uefi(secureBoot: false).bytes
        let replayed = try TPMEventLog(bytes).replayedPCRs
        // Flip the variable's value byte in place (the last byte of the PCR 7 event's data): the digest the
        // firmware extended, and so the replay, stay those of "off".
        let range = try #require(bytes.firstRange(of: BootEventLog.secureBootVariable(enabled: false)))
        bytes[range.upperBound - 1] = 1
        let parsed = try TPMEventLog(bytes)
        #expect(parsed.replayedPCRs == replayed, "the edit does not change the replay")
        #expect(throws: TPMEventLog.Malformed.self) { try parsed.secureBoot() }
    }

    /// What a quote's PCR values must look like, so that what is stored and compared is what was quoted.
    @Test func onlyTenLowercaseSHA256ValuesAreQuotedPCRs() {
        let value = String(repeating: "ab", count: 32)
        #expect(MeasuredBoot.canonical(Array(repeating: value, count: 10))?.count == 10)
        #expect(MeasuredBoot.canonical(Array(repeating: value.uppercased(), count: 10)) == nil)
        #expect(MeasuredBoot.canonical(Array(repeating: value, count: 11)) == nil)
        #expect(MeasuredBoot.canonical(Array(repeating: value, count: 9) + ["zz" + value.dropFirst(2)]) == nil)
        #expect(MeasuredBoot.canonical(Array(repeating: value + "00", count: 10)) == nil)
    }

    @Test func malformedLogsAreRefusedWithTheReason() throws {
        let good = BootEventLog.uefi(secureBoot: true).bytes
        func reason(_ bytes: [UInt8]) -> String? {
            do {
                _ = try TPMEventLog(bytes)
                return nil
            } catch {
                return error.description
            }
        }
        #expect(reason([]) != nil)
        #expect(reason(Array(good.dropLast(3)))?.contains("ends inside an event") == true)
        #expect(reason(Array(repeating: 0, count: 64))?.contains("Spec ID") == true)
        #expect(reason([UInt8](repeating: 0, count: TPMEventLog.maxBytes + 1))?.contains("limit") == true)
        // An event on PCR 24.
        var bad = BootEventLog()
        bad.append(pcr: 24, type: 0xd, [1])
        #expect(reason(bad.bytes)?.contains("PCR 24") == true)
        // Every prefix of a good log is refused or parses: never a trap.
        for end in stride(from: 0, to: good.count, by: 7) { _ = reason(Array(good.prefix(end))) }
    }
}
