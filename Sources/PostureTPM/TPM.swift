import CTPM
import Crypto
import Dispatch

/// A TPM 2.0 reached through a TCTI (`device:/dev/tpmrm0`, `swtpm:host=…,port=…`). Every command runs on
/// one serial queue: an ESAPI context is not thread-safe, and a TPM without a resource manager (swtpm)
/// serves one client at a time. A TPM is slow (tens of milliseconds per command on real hardware), so
/// callers on an event loop or the cooperative pool use the async forms, which wait off their thread.
public final class TPM: @unchecked Sendable {
    // @unchecked: `handle` is only touched on `queue`.
    private let handle: OpaquePointer
    private let queue = DispatchQueue(label: "posture.tpm")
    /// The TCTI it was opened with.
    public let tcti: String

    /// The kernel's resource manager: what `auto` means where `/dev/tpmrm0` exists.
    public static let kernelResourceManager = "device:/dev/tpmrm0"

    public init(tcti: String) throws(TPMError) {
        var opened: OpaquePointer?
        let message = Self.call { posture_tpm_open(tcti, &opened, $0, $1) }
        guard let opened, message == nil else {
            throw TPMError("cannot open the TPM at \(tcti): \(message ?? "unknown error")")
        }
        handle = opened
        self.tcti = tcti
    }

    deinit { posture_tpm_close(handle) }

    /// What the TPM says it is.
    public func info() throws(TPMError) -> TPMInfo {
        try run { handle throws(TPMError) in
            var manufacturer: UInt32 = 0
            var firmware1: UInt32 = 0
            var firmware2: UInt32 = 0
            var vendor = [CChar](repeating: 0, count: 17)
            try Self.check {
                posture_tpm_info(handle, &manufacturer, &vendor, &firmware1, &firmware2, $0, $1)
            }
            return TPMInfo(
                manufacturer: TPMInfo.text(of: manufacturer),
                vendor: String(decoding: vendor.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    .trimmingCharacters(),
                firmwareVersion: "\(firmware1 >> 16).\(firmware1 & 0xffff).\(firmware2 >> 16).\(firmware2 & 0xffff)")
        }
    }

    /// A new P-256 signing key made inside the TPM, under its storage root key.
    public func createKey() throws(TPMError) -> TPMKeyBlob {
        try run { handle throws(TPMError) in
            var pub = [UInt8](repeating: 0, count: 1024)
            var priv = [UInt8](repeating: 0, count: 1024)
            var pubCount = 0
            var privCount = 0
            try Self.check {
                posture_tpm_create_key(handle, &pub, pub.count, &pubCount, &priv, priv.count, &privCount, $0, $1)
            }
            return try TPMKeyBlob(public: Array(pub.prefix(pubCount)), private: Array(priv.prefix(privCount)))
        }
    }

    /// Loads `blob` as the key `sign` uses. Fails on any TPM but the one that made it.
    public func load(_ blob: TPMKeyBlob) throws(TPMError) {
        try run { handle throws(TPMError) in
            try Self.check {
                posture_tpm_load_key(handle, blob.public, blob.public.count, blob.private, blob.private.count, $0, $1)
            }
        }
    }

    /// The endorsement key's certificate (DER) and public area (TPM2B_PUBLIC), ECC only.
    public func endorsement() throws(TPMError) -> (certificate: [UInt8], publicArea: [UInt8]) {
        try run { handle throws(TPMError) in
            var certificate = [UInt8](repeating: 0, count: 4096)
            var pub = [UInt8](repeating: 0, count: 1024)
            var certificateCount = 0
            var pubCount = 0
            try Self.check {
                posture_tpm_endorsement(
                    handle, &certificate, certificate.count, &certificateCount, &pub, pub.count, &pubCount, $0, $1)
            }
            return (Array(certificate.prefix(certificateCount)), Array(pub.prefix(pubCount)))
        }
    }

    /// The attestation key (made again from the endorsement hierarchy's seed: the same key each time), left
    /// loaded; its TPM2B_PUBLIC.
    public func attestationKey() throws(TPMError) -> [UInt8] {
        try run { handle throws(TPMError) in
            var pub = [UInt8](repeating: 0, count: 1024)
            var count = 0
            try Self.check { posture_tpm_attestation_key(handle, &pub, pub.count, &count, $0, $1) }
            return Array(pub.prefix(count))
        }
    }

    /// ActivateCredential: what a verifier sealed to the EK for the attestation key.
    public func activate(credential: [UInt8], secret: [UInt8]) throws(TPMError) -> [UInt8] {
        try run { handle throws(TPMError) in
            var out = [UInt8](repeating: 0, count: 64)
            var count = 0
            try Self.check {
                posture_tpm_activate(
                    handle, credential, credential.count, secret, secret.count, &out, out.count, &count, $0, $1)
            }
            return Array(out.prefix(count))
        }
    }

    /// A TPMS_ATTEST and the attestation key's signature over it (r‖s).
    public struct Attestation: Sendable, Equatable {
        public var attest: [UInt8]
        public var signature: [UInt8]
    }

    /// TPM2_Certify of the loaded device key by the attestation key.
    public func certifyDeviceKey(qualifyingData: [UInt8]) throws(TPMError) -> Attestation {
        try attestation { handle, attest, count, r, s, error, length in
            posture_tpm_certify(
                handle, qualifyingData, qualifyingData.count, attest, 1024, count, r, s, error, length)
        }
    }

    /// TPM2_Quote of the SHA-256 PCRs `pcrs` by the attestation key.
    public func quote(pcrs: [Int], qualifyingData: [UInt8]) throws(TPMError) -> Attestation {
        try run { _ throws(TPMError) in try quoteOnQueue(pcrs: pcrs, qualifyingData: qualifyingData) }
    }

    /// The SHA-256 values of `pcrs`, in that order.
    public func pcrValues(_ pcrs: [Int]) throws(TPMError) -> [[UInt8]] {
        try run { handle throws(TPMError) in try Self.pcrValues(handle, pcrs) }
    }

    private static func pcrValues(_ handle: OpaquePointer, _ pcrs: [Int]) throws(TPMError) -> [[UInt8]] {
        var values: [[UInt8]] = []
        for index in pcrs {
            var value = [UInt8](repeating: 0, count: 32)
            try check { posture_tpm_pcr_read(handle, UInt32(index), &value, $0, $1) }
            values.append(value)
        }
        return values
    }

    /// `pcrValues` without holding the caller's thread.
    public func pcrValuesWithoutBlocking(_ pcrs: [Int]) async throws -> [[UInt8]] {
        try await onQueue { handle throws(TPMError) in try Self.pcrValues(handle, pcrs) }
    }

    /// `quote` without holding the caller's thread.
    public func quoteWithoutBlocking(pcrs: [Int], qualifyingData: [UInt8]) async throws -> Attestation {
        try await onQueue { _ throws(TPMError) in try self.quoteOnQueue(pcrs: pcrs, qualifyingData: qualifyingData) }
    }

    private func onQueue<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws(TPMError) -> T) async throws
        -> T
    {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { () throws(TPMError) in try body(self.handle) }) }
        }
    }

    private func quoteOnQueue(pcrs: [Int], qualifyingData: [UInt8]) throws(TPMError) -> Attestation {
        let mask = pcrs.filter { (0..<24).contains($0) }.reduce(UInt32(0)) { $0 | 1 << UInt32($1) }
        var attest = [UInt8](repeating: 0, count: 1024)
        var count = 0
        var r = [UInt8](repeating: 0, count: 32)
        var s = [UInt8](repeating: 0, count: 32)
        try Self.check {
            posture_tpm_quote(handle, mask, qualifyingData, qualifyingData.count, &attest, 1024, &count, &r, &s, $0, $1)
        }
        return Attestation(attest: Array(attest.prefix(count)), signature: r + s)
    }

    /// Runs a shim call that fills a TPMS_ATTEST (at most 1,024 bytes) and its signature's r and s.
    private func attestation(
        _ call: (
            OpaquePointer, UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<Int>, UnsafeMutablePointer<UInt8>,
            UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<CChar>, Int
        ) -> Int32
    ) throws(TPMError) -> Attestation {
        try run { handle throws(TPMError) in
            var attest = [UInt8](repeating: 0, count: 1024)
            var count = 0
            var r = [UInt8](repeating: 0, count: 32)
            var s = [UInt8](repeating: 0, count: 32)
            try Self.check { call(handle, &attest, &count, &r, &s, $0, $1) }
            return Attestation(attest: Array(attest.prefix(count)), signature: r + s)
        }
    }

    /// Signs a SHA-256 digest with the loaded key, on the caller's thread (it waits its turn).
    public func sign(digest: SHA256.Digest) throws(TPMError) -> P256.Signing.ECDSASignature {
        try run { handle throws(TPMError) in try Self.sign(handle, digest) }
    }

    /// Signs a SHA-256 digest with the loaded key without holding the caller's thread.
    public func signWithoutBlocking(digest: SHA256.Digest) async throws -> P256.Signing.ECDSASignature {
        try await onQueue { handle throws(TPMError) in try Self.sign(handle, digest) }
    }

    private static func sign(_ handle: OpaquePointer, _ digest: SHA256.Digest) throws(TPMError)
        -> P256.Signing.ECDSASignature
    {
        var r = [UInt8](repeating: 0, count: 32)
        var s = [UInt8](repeating: 0, count: 32)
        let bytes = Array(digest)
        try check { posture_tpm_sign(handle, bytes, &r, &s, $0, $1) }
        do {
            return try P256.Signing.ECDSASignature(rawRepresentation: r + s)
        } catch {
            throw TPMError("the TPM returned a malformed signature")
        }
    }

    private func run<T>(_ body: (OpaquePointer) throws(TPMError) -> T) throws(TPMError) -> T {
        let result = queue.sync { Result { () throws(TPMError) in try body(self.handle) } }
        return try result.get()
    }

    /// Runs a shim call with an error buffer; nil when it succeeded.
    private static func call(_ body: (UnsafeMutablePointer<CChar>, Int) -> Int32) -> String? {
        var buffer = [CChar](repeating: 0, count: 512)
        let status = body(&buffer, buffer.count)
        guard status != 0 else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func check(_ body: (UnsafeMutablePointer<CChar>, Int) -> Int32) throws(TPMError) {
        if let message = call(body) { throw TPMError(message) }
    }
}

/// A TPM command that failed, with the TSS's words for why.
public struct TPMError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The TPM's fixed properties, for the report.
public struct TPMInfo: Sendable, Equatable {
    /// The TCG vendor ID as four letters ("IBM", "INTC", "STM", "NTC", "MSFT").
    public var manufacturer: String
    public var vendor: String
    public var firmwareVersion: String

    static func text(of word: UInt32) -> String {
        let bytes = (0..<4).map { UInt8((word >> (24 - 8 * UInt32($0))) & 0xff) }
        return String(decoding: bytes.filter { $0 > 0x20 && $0 < 0x7f }, as: UTF8.self)
    }
}

extension String {
    fileprivate func trimmingCharacters() -> String {
        String(unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7f }).split(separator: " ").joined(
            separator: " ")
    }
}
