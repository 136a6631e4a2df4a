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
            }
            return .success(
                TPMTimings(
                    softwareSignMicros: median(softwareSign), tpmSignMillis: median(tpmSign),
                    quoteMillis: median(quote), attestVerifyMicros: median(verify), samples: samples))
        } catch let error as TPMError {
            return .failure(error)
        } catch {
            return .failure(TPMError("\(error)"))
        }
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
