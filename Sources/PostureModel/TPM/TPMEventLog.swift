import Crypto

/// A TCG PC Client crypto-agile boot event log (`/sys/kernel/security/tpm0/binary_bios_measurements`; TCG PC
/// Client Platform Firmware Profile §10), parsed and replayed into SHA-256 PCR values. Nothing in it is
/// trustworthy until `replayedPCRs` equal PCR values a TPM quoted; then `secureBoot` reads what firmware
/// measured into PCR 7, which the OS cannot rewrite after boot as it can efivars.
public struct TPMEventLog: Sendable {
    public struct Event: Sendable {
        public var pcr: Int
        public var type: UInt32
        /// The SHA-256 digest the firmware extended (nil for EV_NO_ACTION).
        public var sha256: [UInt8]?
        public var data: ArraySlice<UInt8>
    }

    public static let evNoAction: UInt32 = 0x3
    public static let evSeparator: UInt32 = 0x4
    public static let evEFIVariableDriverConfig: UInt32 = 0x8000_0001
    public static let evEFIHCRTMEvent: UInt32 = 0x8000_0010
    static let sha256Algorithm: UInt16 = 0x000B
    /// Beyond any firmware's log (real ones are tens of kilobytes, a few hundred with large Secure Boot
    /// databases): a bound on what a device sends and makes a verifier read; base64, it fits the collector's
    /// default attestation body limit (1 MiB) beside the report.
    public static let maxBytes = 512 << 10
    static let maxEvents = 20_000

    public var events: [Event]
    /// SHA-256 PCR values 0–23 after replaying every event from the reset values.
    public var replayedPCRs: [[UInt8]]

    public struct Malformed: Error, CustomStringConvertible, Sendable, Equatable {
        public var description: String
    }

    public init(_ bytes: [UInt8]) throws(Malformed) {
        guard bytes.count <= Self.maxBytes else {
            throw Malformed(description: "the event log is \(bytes.count) bytes; the limit is \(Self.maxBytes)")
        }
        var reader = LittleEndianReader(bytes[...])
        // The first event is in the SHA-1 format and must be the Spec ID event, which gives every digest's size.
        let firstPCR = try reader.u32()
        let firstType = try reader.u32()
        _ = try reader.take(20)
        let specID = try reader.take(Int(try reader.u32()))
        guard firstPCR == 0, firstType == Self.evNoAction, specID.starts(with: Array("Spec ID Event03".utf8) + [0])
        else {
            throw Malformed(
                description:
                    "not a crypto-agile log: the first event is not the TCG Spec ID Event03 (a TPM 1.2 SHA-1 log is not read)"
            )
        }
        var spec = LittleEndianReader(specID.dropFirst(16 + 4 + 4))  // signature, platformClass, versions, uintnSize
        let algorithmCount = try spec.u32()
        guard algorithmCount > 0, algorithmCount <= 16 else {
            throw Malformed(description: "the Spec ID event names \(algorithmCount) hash algorithms")
        }
        var digestSizes: [UInt16: Int] = [:]
        for _ in 0..<algorithmCount {
            let algorithm = try spec.u16()
            digestSizes[algorithm] = Int(try spec.u16())
        }
        guard digestSizes[Self.sha256Algorithm] == 32 else {
            throw Malformed(description: "the log has no SHA-256 bank (Spec ID event)")
        }
        var pcrs = [[UInt8]](repeating: [UInt8](repeating: 0, count: 32), count: 24)
        var events: [Event] = []
        while reader.remaining > 0 {
            guard events.count < Self.maxEvents else {
                throw Malformed(description: "the log has more than \(Self.maxEvents) events")
            }
            let pcr = Int(try reader.u32())
            let type = try reader.u32()
            let count = try reader.u32()
            guard count <= 16 else { throw Malformed(description: "an event carries \(count) digests") }
            var sha256: [UInt8]?
            for _ in 0..<count {
                let algorithm = try reader.u16()
                guard let size = digestSizes[algorithm] else {
                    throw Malformed(
                        description:
                            "an event has a digest of algorithm 0x\(String(algorithm, radix: 16)), which the Spec ID event does not declare"
                    )
                }
                let digest = try reader.take(size)
                if algorithm == Self.sha256Algorithm { sha256 = Array(digest) }
            }
            let data = try reader.take(Int(try reader.u32()))
            guard pcr < 24 else { throw Malformed(description: "an event extends PCR \(pcr)") }
            if type == Self.evNoAction {
                // The locality the platform started in is PCR 0's initial value (usually 3 with an H-CRTM).
                let startup = Array("StartupLocality".utf8) + [0]
                if pcr == 0, data.starts(with: startup), data.count > startup.count {
                    pcrs[0][31] = data[data.startIndex + startup.count]
                }
                events.append(Event(pcr: pcr, type: type, sha256: nil, data: data))
                continue
            }
            guard let sha256 else {
                throw Malformed(description: "event \(events.count) (PCR \(pcr)) has no SHA-256 digest")
            }
            if type == Self.evEFIHCRTMEvent, pcr == 0 { pcrs[0][31] = 4 }
            pcrs[pcr] = Array(SHA256.hash(data: pcrs[pcr] + sha256))
            events.append(Event(pcr: pcr, type: type, sha256: sha256, data: data))
        }
        self.events = events
        replayedPCRs = pcrs
    }

    /// Secure Boot as the firmware measured it into PCR 7: the SecureBoot variable of an
    /// EV_EFI_VARIABLE_DRIVER_CONFIG event whose data hashes to its digest (otherwise a log could claim
    /// 1 and still replay). Nil when no such event exists (BIOS firmware, or a log without PCR 7 events).
    public func secureBoot() throws(Malformed) -> Bool? {
        // EFI_GLOBAL_VARIABLE 8BE4DF61-93CA-11D2-AA0D-00E098032B8C as the log stores it (mixed-endian).
        let globalVariable: [UInt8] = [
            0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c,
        ]
        let name = Array("SecureBoot".utf16).flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }
        var state: Bool?
        for event in events where event.pcr == 7 && event.type == Self.evEFIVariableDriverConfig {
            var reader = LittleEndianReader(event.data)
            let guid = try reader.take(16)
            let nameLength = try reader.u64()
            let dataLength = try reader.u64()
            guard nameLength <= 1024, dataLength <= UInt64(event.data.count) else {
                throw Malformed(description: "a PCR 7 variable event has impossible lengths")
            }
            let variable = try reader.take(Int(nameLength) * 2)
            let value = try reader.take(Int(dataLength))
            guard guid.elementsEqual(globalVariable), variable.elementsEqual(name) else { continue }
            guard Array(SHA256.hash(data: Array(event.data))) == event.sha256 else {
                throw Malformed(description: "the SecureBoot event's data does not hash to the digest it extended")
            }
            guard state == nil else { throw Malformed(description: "SecureBoot is measured twice into PCR 7") }
            state = value.first == 1
        }
        return state
    }
}

/// The event log's integers are little-endian (unlike the TPM's own structures).
struct LittleEndianReader {
    var data: ArraySlice<UInt8>
    init(_ data: ArraySlice<UInt8>) { self.data = data }
    var remaining: Int { data.count }

    mutating func take(_ count: Int) throws(TPMEventLog.Malformed) -> ArraySlice<UInt8> {
        guard count >= 0, data.count >= count else {
            throw TPMEventLog.Malformed(description: "the event log ends inside an event")
        }
        defer { data = data.dropFirst(count) }
        return data.prefix(count)
    }
    mutating func u16() throws(TPMEventLog.Malformed) -> UInt16 {
        try take(2).reversed().reduce(0) { $0 << 8 | UInt16($1) }
    }
    mutating func u32() throws(TPMEventLog.Malformed) -> UInt32 {
        try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }
    mutating func u64() throws(TPMEventLog.Malformed) -> UInt64 {
        try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }
}
