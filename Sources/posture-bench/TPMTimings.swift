import Crypto
import Glibc
import PostureModel
import PostureTPM

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The TPM's share of an attestation, next to the software key's, in the same run: ES256 signing with the
/// device key in swtpm (what the agent does for every report and every TLS handshake), TPM2_Quote of PCRs
/// 0-9 by the attestation key, and what checking a TPMS_ATTEST costs the collector (parse + ECDSA verify).
/// swtpm answers in about a millisecond; a hardware TPM takes tens of milliseconds per command, which is why
/// the agent signs off its event loops.
struct TPMTimings {
    var softwareSignMicros: Double
    var tpmSignMillis: Double
    var quoteMillis: Double
    var attestVerifyMicros: Double
    /// What verifying one attestation's quote costs the collector (parse, ECDSA, qualifying data, PCR digest),
    /// and one P-256 verification alone (the reference).
    var quoteCheckMicros: Double
    var p256VerifyMicros: Double
    /// Replaying a boot event log of `eventLogBytes` (base64 decode, parse, replay, Secure Boot read): what the
    /// collector spends when a device's report part changes (a reboot), not per attestation.
    var replayMicros: Double
    var eventLogBytes: Int
    var eventLogEvents: Int
    var samples: Int

    static func measure(directory: String, samples: Int) -> Result<TPMTimings, TPMError> {
        let state = directory + "/swtpm"
        mkdir(state, 0o700)
        let port = Int.random(in: 20000..<40000)
        let swtpm = spawnBackground([
            "swtpm", "socket", "--tpm2", "--tpmstate", "dir=\(state)", "--server",
            "type=tcp,port=\(port),bindaddr=127.0.0.1", "--ctrl", "type=tcp,port=\(port + 1),bindaddr=127.0.0.1",
            "--flags", "not-need-init,startup-clear",
        ])
        guard swtpm > 0 else { return .failure(TPMError("swtpm is not installed (apt-get install swtpm)")) }
        defer {
            kill(swtpm, SIGTERM)
            var status: Int32 = 0
            waitpid(swtpm, &status, 0)
        }
        var tpm: TPM?
        for _ in 0..<50 where tpm == nil {
            usleep(100_000)
            tpm = try? TPM(tcti: "swtpm:host=127.0.0.1,port=\(port)")
        }
        guard let tpm else { return .failure(TPMError("swtpm did not answer on port \(port)")) }
        do {
            let key = try TPMDeviceKey(tpm: tpm, blob: try tpm.createKey())
            let software = SoftwareSigningKey(P256.Signing.PrivateKey())
            let message = Data(repeating: 0x61, count: 400)
            let akBytes = try tpm.attestationKey()
            guard let ak = try? TPMPublicArea(tpm2bPublic: akBytes), let akKey = ak.publicKey else {
                return .failure(TPMError("the attestation key's public area does not parse"))
            }
            let log = Self.syntheticEventLog()
            let logBase64 = Data(log).base64EncodedString()
            let parsed = try TPMEventLog(log)
            let pcrValues = parsed.replayedPCRs.prefix(10).map(\.hex)
            var replay: [Double] = []
            var quoteCheck: [Double] = []
            var p256: [Double] = []
            var softwareSign: [Double] = []
            var tpmSign: [Double] = []
            var quote: [Double] = []
            var verify: [Double] = []
            for index in 0..<samples {
                var start = wallSeconds()
                _ = try software.sign(message)
                softwareSign.append((wallSeconds() - start) * 1e6)
                start = wallSeconds()
                _ = try key.sign(message)
                tpmSign.append((wallSeconds() - start) * 1e3)
                start = wallSeconds()
                let quoted = try tpm.quote(
                    pcrs: Array(0...9), qualifyingData: Array(SHA256.hash(data: [UInt8(index & 0xff)])))
                quote.append((wallSeconds() - start) * 1e3)
                let cpu = cpuSeconds()
                guard let attest = try? TPMAttest(quoted.attest),
                    attest.isSigned(by: akKey, signature: quoted.signature)
                else { return .failure(TPMError("a quote did not verify")) }
                verify.append((cpuSeconds() - cpu) * 1e6)
                // The quote an attestation carries, checked as the collector checks it (swtpm's PCRs are zero).
                let zeros = [String](repeating: String(repeating: "0", count: 64), count: 10)
                let qualifying = Array(SHA256.hash(data: [UInt8(index & 0xff), 1]))
                let attestation = try tpm.quote(pcrs: Array(0...9), qualifyingData: qualifying)
                var checkStart = cpuSeconds()
                guard
                    MeasuredBoot.checkQuote(
                        attest: attestation.attest, signature: attestation.signature, attestationKey: akKey,
                        qualifyingData: qualifying, pcrs: zeros) == nil
                else { return .failure(TPMError("a quote did not pass the collector's check")) }
                quoteCheck.append((cpuSeconds() - checkStart) * 1e6)
                let signature = try P256.Signing.ECDSASignature(rawRepresentation: attestation.signature)
                checkStart = cpuSeconds()
                _ = akKey.isValidSignature(signature, for: attestation.attest)
                p256.append((cpuSeconds() - checkStart) * 1e6)
                checkStart = cpuSeconds()
                let boot = MeasuredBoot(pcrs: pcrValues, eventLog: logBase64, unavailable: nil)
                guard case .replayed = boot.log else { return .failure(TPMError("the event log did not replay")) }
                replay.append((cpuSeconds() - checkStart) * 1e6)
            }
            return .success(
                TPMTimings(
                    softwareSignMicros: median(softwareSign), tpmSignMillis: median(tpmSign),
                    quoteMillis: median(quote), attestVerifyMicros: median(verify),
                    quoteCheckMicros: median(quoteCheck), p256VerifyMicros: median(p256), replayMicros: median(replay),
                    eventLogBytes: log.count, eventLogEvents: parsed.events.count, samples: samples))
        } catch let error as TPMError {
            return .failure(error)
        } catch {
            return .failure(TPMError("\(error)"))
        }
    }
}

extension TPMTimings {
    /// A UEFI boot's log of a laptop's size (about 60 KB, 400 events: firmware volumes, option ROMs, the
    /// Secure Boot databases, boot loader and kernel), crypto-agile with a SHA-256 bank.
    static func syntheticEventLog() -> [UInt8] {
        func le32(_ value: Int) -> [UInt8] { (0..<4).map { UInt8((value >> (8 * $0)) & 0xff) } }
        let specID = Array("Spec ID Event03".utf8) + [0] + le32(0) + [0, 2, 0, 2] + le32(1) + [0x0B, 0, 32, 0, 0]
        var log = le32(0) + le32(3) + [UInt8](repeating: 0, count: 20) + le32(specID.count) + specID
        for index in 0..<400 {
            let data = [UInt8](repeating: UInt8(index & 0xff), count: 100 + (index % 7) * 20)
            log += le32(index % 10) + le32(0xd) + le32(1) + [0x0B, 0] + Array(SHA256.hash(data: data))
            log += le32(data.count) + data
        }
        return log
    }
}

/// Starts a program in the background with its output discarded; its pid, or 0 when it cannot run.
func spawnBackground(_ arguments: [String]) -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let argv = arguments.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    return posix_spawnp(&pid, arguments[0], &actions, nil, argv, environ) == 0 ? pid : 0
}
