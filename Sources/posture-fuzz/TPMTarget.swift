#if DEBUG
    import Crypto
    import Foundation
    @testable import PostureCollector
    import PostureModel

    /// What a device sends of its TPM at enrollment, parsed as the collector parses it: TPM2B_PUBLIC and
    /// TPMT_PUBLIC (endorsement, attestation and device keys), TPMS_ATTEST (Certify, Quote) and its
    /// signature check, MakeCredential over whatever public area parses, and `TPMKeyEvidence` JSON with
    /// each base64 field through the same parsers; and what every attestation of a TPM device carries: the
    /// boot event log (parsed, replayed, Secure Boot read) and a quote checked against PCR values. Seeds:
    /// swtpm's EK and AK public areas and a quote (tpm2-tools), a SeaBIOS event log from a QEMU guest.
    enum TPMTarget {
        static func run(_ input: [UInt8]) -> String {
            var out: [String] = []
            for area in [try? TPMPublicArea(tpm2bPublic: input), try? TPMPublicArea(tpmtPublic: input)] {
                guard let area else { continue }
                out.append("public type=\(area.type) curve=\(area.curve) name=\(area.name?.count ?? 0)")
                let sealed = try? MakeCredential.seal(
                    credential: [UInt8](repeating: 7, count: 32), objectName: area.name ?? [], endorsementKey: area)
                out.append("sealed=\(sealed?.credentialBlob.count ?? -1)")
            }
            if let attest = try? TPMAttest(input) {
                out.append(
                    "attest type=\(attest.type) banks=\(attest.pcrSelection.count) signed=\(attest.isSigned(by: Fixtures.deviceKey.publicKey, signature: Array(input.suffix(64))))"
                )
            }
            if let log = try? TPMEventLog(input) {
                let secureBoot = try? log.secureBoot()
                let boot = MeasuredBoot(
                    pcrs: log.replayedPCRs.prefix(10).map(\.hex), eventLog: Data(input).base64EncodedString(),
                    unavailable: nil)
                out.append(
                    "eventlog events=\(log.events.count) secureBoot=\(String(describing: secureBoot)) \(boot.log)")
            }
            let quoteProblem = MeasuredBoot.checkQuote(
                attest: input, signature: Array(input.suffix(64)), attestationKey: Fixtures.deviceKey.publicKey,
                qualifyingData: Array(input.prefix(32)),
                pcrs: [String](repeating: String(repeating: "0", count: 64), count: 10))
            if quoteProblem == nil { out.append("quote verified") }
            if let evidence = try? JSONDecoder().decode(TPMKeyEvidence.self, from: Data(input)) {
                for field in [
                    evidence.endorsement.key, evidence.endorsement.attestationKey, evidence.deviceKey, evidence.certify,
                ] {
                    guard let bytes = Data(base64Encoded: field).map(Array.init) else { continue }
                    out.append(
                        "field public=\((try? TPMPublicArea(tpm2bPublic: bytes)) != nil) attest=\((try? TPMAttest(bytes)) != nil)"
                    )
                }
            }
            return out.isEmpty ? "refused" : out.joined(separator: "; ")
        }
    }
#endif
