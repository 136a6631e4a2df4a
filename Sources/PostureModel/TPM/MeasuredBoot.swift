import Crypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What booted, as a verifier establishes it from a TPM device's quote, PCR values and event log (PROTOCOL.md,
/// "Measured boot"). The PCR values are trustworthy once `checkQuote` passed: a TPM signed their digest over
/// the verifier's nonce. The event log is trustworthy only where it replays to those values.
public struct MeasuredBoot: Sendable, Equatable {
    /// SHA-256 PCR values by index, lowercase hex (`DetachedAttestation.quotedPCRs`).
    public var pcrs: [Int: String]
    public var log: Log

    public enum Log: Sendable, Equatable {
        /// The log replays to every quoted PCR; Secure Boot as firmware measured it (nil: not measured,
        /// e.g. BIOS firmware), or why that part of the log cannot be read.
        case replayed(events: Int, secureBoot: Bool?, secureBootProblem: String?)
        /// The device sent none: why.
        case absent(String)
        /// The device sent one that is malformed or does not replay: why, naming the PCRs.
        case invalid(String)
    }

    /// Secure Boot from a log that replayed; nil when the log cannot tell.
    public var secureBoot: Bool? {
        if case .replayed(_, let secureBoot, nil) = log { return secureBoot }
        return nil
    }

    /// The bytes of exactly ten SHA-256 values written as 64 lowercase hex digits each, or nil: what a quote's
    /// PCR values must look like, so that what is stored and compared is exactly what was quoted.
    public static func canonical(_ pcrs: [String]) -> [[UInt8]]? {
        guard pcrs.count == DetachedAttestation.quotedPCRs.count else { return nil }
        var values: [[UInt8]] = []
        for text in pcrs {
            guard text.utf8.count == 64, text == text.lowercased(), let bytes = [UInt8](hex: text) else { return nil }
            values.append(bytes)
        }
        return values
    }

    /// PCR values in `DetachedAttestation.quotedPCRs` order, by index.
    public static func pcrMap(_ values: [String]) -> [Int: String] {
        Dictionary(uniqueKeysWithValues: zip(DetachedAttestation.quotedPCRs, values.map { $0.lowercased() }))
    }

    /// How the quoted PCRs stand against a baseline, in the words every view uses.
    public static func baselineWording(recorded: Bool, changed: [Int]) -> String {
        guard recorded else { return "no baseline recorded" }
        return changed.isEmpty ? "as recorded" : "PCR \(changed.map(String.init).joined(separator: ", ")) changed"
    }

    /// The quoted PCRs whose value differs from `reference`, in order.
    public func changed(from reference: [Int: String]) -> [Int] {
        pcrs.keys.sorted().filter { reference[$0] != nil && reference[$0] != pcrs[$0] }
    }

    /// Replays `eventLog` (base64) against `pcrs` (already verified by a quote).
    public init(pcrs hex: [String], eventLog: String?, unavailable: String?) {
        var pcrs: [Int: String] = [:]
        for (index, value) in zip(DetachedAttestation.quotedPCRs, hex) { pcrs[index] = value.lowercased() }
        self.pcrs = pcrs
        guard let eventLog else {
            log = .absent(unavailable ?? "the device sent no event log")
            return
        }
        guard let bytes = Data(base64Encoded: eventLog) else {
            log = .invalid("the event log is not base64")
            return
        }
        do {
            let parsed = try TPMEventLog(Array(bytes))
            let wrong = pcrs.keys.sorted().filter { parsed.replayedPCRs[$0].hex != pcrs[$0] }
            guard wrong.isEmpty else {
                log = .invalid(
                    "the event log does not replay to the quoted PCR \(wrong.map(String.init).joined(separator: ", ")): it is not the log of this boot"
                )
                return
            }
            do {
                log = .replayed(
                    events: parsed.events.count, secureBoot: try parsed.secureBoot(), secureBootProblem: nil)
            } catch {
                log = .replayed(events: parsed.events.count, secureBoot: nil, secureBootProblem: error.description)
            }
        } catch {
            log = .invalid(error.description)
        }
    }

    /// What a report's `tpm` fact says booted: its PCRs, its event log replayed against them; nil when it
    /// carries no PCRs. Trustworthy only for a report whose quote verified (the collector checks at ingest).
    public init?(reported report: PostureReport) {
        guard case .observed(let tpm, _)? = report.tpm, let pcrs = tpm.pcrs else { return nil }
        self.init(pcrs: pcrs, eventLog: tpm.eventLog, unavailable: tpm.eventLogUnavailable)
    }

    /// Why a quote does not vouch for these PCR values under this nonce, or nil when it does: the
    /// attestation key signed a TPM2_Quote whose qualifying data is `qualifyingData`, over SHA-256 PCRs
    /// `quotedPCRs` exactly, whose digest is that of `pcrs` (lowercase hex, in PCR order).
    public static func checkQuote(
        attest attestBytes: [UInt8], signature: [UInt8], attestationKey: P256.Signing.PublicKey,
        qualifyingData: [UInt8], pcrs: [String]
    ) -> String? {
        guard let attest = try? TPMAttest(attestBytes), attest.type == TPMAttest.typeQuote else {
            return "the quote is not a TPMS_ATTEST of a TPM2_Quote"
        }
        guard attest.isSigned(by: attestationKey, signature: signature) else {
            return "the quote is not signed by the attestation key this device enrolled with"
        }
        guard attest.extraData == qualifyingData else {
            return
                "the quote does not answer this attestation's nonce and report (its qualifying data differs): a replayed or stale quote"
        }
        guard attest.pcrSelection.count == 1, attest.pcrSelection[0].hash == TPMPublicArea.algorithmSHA256,
            attest.pcrSelection[0].pcrs == DetachedAttestation.quotedPCRs
        else {
            return "the quote does not cover exactly the SHA-256 PCRs 0-9"
        }
        guard let values = canonical(pcrs) else {
            return "tpm.pcrs must be exactly the 10 SHA-256 values of PCR 0-9, 64 lowercase hex digits each"
        }
        guard attest.pcrDigest == Array(SHA256.hash(data: values.flatMap { $0 })) else {
            return "tpm.pcrs are not the PCR values the TPM quoted"
        }
        return nil
    }
}

extension Fact where Value == TPMFacts {
    /// The fact without its boot event log (tens of kilobytes a device), once what the log proves is held
    /// as a `MeasuredBoot`.
    public var withoutEventLog: Fact<TPMFacts> {
        guard case .observed(var tpm, let source) = self, tpm.eventLog != nil else { return self }
        tpm.eventLog = nil
        return .observed(tpm, source: source)
    }
}

extension Array where Element == UInt8 {
    /// Lowercase hex.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(count * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Bytes from lowercase or uppercase hex; nil for anything else.
    public init?(hex text: String) {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            case 0x41...0x46: c - 0x41 + 10
            default: nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        self = bytes
    }
}
