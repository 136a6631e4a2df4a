import Crypto
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import X509

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The collector's own TLS server certificate, swapped in place without a restart: every new handshake
/// asks for the current one (swift-nio-ssl's context callback), open connections keep theirs.
///
/// Issued by the collector's CA, it is renewed at two thirds of `tls.serverCertificateLifetime`, so a
/// collector left running for a year never locks its agents out. The operator's own pair
/// (`tls.certificate`, `tls.key`) is read again on SIGHUP and when either file changes; a pair that does not
/// load is logged and the previous one kept, so a half-copied file never takes the listeners down.
final class ServerCertificate: Sendable {
    struct Current: Sendable {
        var chain: [NIOSSLCertificateSource]
        var key: NIOSSLPrivateKeySource
        var notAfter: Date
        /// When to replace it: two thirds of its life for an issued one; nil for the operator's own.
        var renewAt: Date?
        /// The operator's files' modification times, to notice a change.
        var fileStamps: [Date?]
    }

    private let configuration: CollectorConfiguration
    private let ca: CertificateAuthority
    private let logger: Logger
    private let state: NIOLockedValueBox<Current>
    /// Told the expiry of each certificate taken into use (the first one included).
    private let onChange: @Sendable (Date) -> Void

    init(
        configuration: CollectorConfiguration, ca: CertificateAuthority, logger: Logger, now: Date = Date(),
        onChange: @escaping @Sendable (Date) -> Void = { _ in }
    ) throws {
        self.configuration = configuration
        self.ca = ca
        self.logger = logger
        self.onChange = onChange
        let first = try Self.load(configuration, ca: ca, logger: logger, now: now)
        state = NIOLockedValueBox(first)
        onChange(first.notAfter)
    }

    var current: Current { state.withLockedValue { $0 } }

    /// The handshake's certificate and key: the current ones, whatever the listener started with.
    var contextCallback: NIOSSLContextCallback {
        { [state] _, promise in
            let current = state.withLockedValue { $0 }
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = current.chain
            override.privateKey = current.key
            promise.succeed(override)
        }
    }

    /// Renews or reloads when due; returns whether the certificate changed. Never throws: a failure is
    /// logged and the certificate in use is kept (it is still valid, or nothing better exists).
    @discardableResult
    func refresh(now: Date = Date(), force: Bool = false) -> Bool {
        let current = self.current
        let due: Bool
        if let renewAt = current.renewAt {
            due = now >= renewAt
        } else {
            due = force || Self.stamps(configuration) != current.fileStamps
        }
        guard due else { return false }
        do {
            let next = try Self.load(configuration, ca: ca, logger: logger, now: now)
            state.withLockedValue { $0 = next }
            onChange(next.notAfter)
            logger.notice(
                current.renewAt == nil ? "server certificate reloaded" : "server certificate renewed",
                metadata: ["posture.event": "server-certificate-renewed", "posture.not_after": "\(next.notAfter)"])
            return true
        } catch {
            logger.error(
                "server certificate not replaced, keeping the one valid until \(current.notAfter): \(error)")
            if current.renewAt != nil {
                // Try again in a minute, not at every tick.
                state.withLockedValue { $0.renewAt = now.addingTimeInterval(60) }
            } else {
                state.withLockedValue { $0.fileStamps = Self.stamps(configuration) }
            }
            return false
        }
    }

    /// Keeps the certificate current until cancelled: checks every 10 s, or sooner when a renewal is due.
    func run() async {
        while !Task.isCancelled {
            let wait = current.renewAt.map { max(0.05, min(10, $0.timeIntervalSinceNow)) } ?? 10
            try? await Task.sleep(for: .milliseconds(Int(wait * 1000)))
            refresh()
        }
    }

    private static func stamps(_ configuration: CollectorConfiguration) -> [Date?] {
        [configuration.tls.certificate, configuration.tls.key].map { path in
            path.flatMap { try? FileManager.default.attributesOfItem(atPath: $0)[.modificationDate] as? Date }
        }
    }

    private static func load(
        _ configuration: CollectorConfiguration, ca: CertificateAuthority, logger: Logger, now: Date
    )
        throws -> Current
    {
        if let certificatePath = configuration.tls.certificate, let keyPath = configuration.tls.key {
            let stamps = Self.stamps(configuration)
            do {
                let chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
                guard let leaf = chain.first else {
                    throw CollectorError(.pki, "\(certificatePath) holds no certificate")
                }
                let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
                let parsed = try Certificate(derEncoded: try leaf.toDERBytes())
                // A pair caught half-replaced would fail every handshake: refused, the old pair stays.
                let keyPEM = try String(contentsOfFile: keyPath, encoding: .utf8)
                guard try Certificate.PrivateKey(pemEncoded: keyPEM).publicKey == parsed.publicKey else {
                    throw CollectorError(
                        .pki, "tls.key \(keyPath) is not the key of tls.certificate \(certificatePath)")
                }
                return Current(
                    chain: chain.map { .certificate($0) }, key: .privateKey(key), notAfter: parsed.notValidAfter,
                    renewAt: nil, fileStamps: stamps)
            } catch {
                throw CollectorError(
                    .pki,
                    "cannot load tls.certificate \(certificatePath) / tls.key \(keyPath) (PEM, readable by the collector's user): \(error)"
                )
            }
        }
        let lifetime = configuration.tls.serverCertificateLifetime
        let key = P256.Signing.PrivateKey()
        let certificate = try ca.issueServerCertificate(
            names: configuration.tls.serverNames, publicKey: key.publicKey, lifetime: lifetime.duration, now: now)
        let pem = try certificate.serializeAsPEM().pemString
        // A copy for people and tools (openssl s_client -verify); a full disk must not stop the collector.
        do {
            try StateDirectory.write(pem, to: configuration.stateDirectory + "/server.crt", mode: 0o644)
        } catch {
            logger.warning("cannot write server.crt (a copy for inspection only), ignoring: \(error)")
        }
        return Current(
            chain: [.certificate(try NIOSSLCertificate(bytes: Array(pem.utf8), format: .pem))],
            key: .privateKey(try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem)),
            notAfter: certificate.notValidAfter, renewAt: now.addingTimeInterval(lifetime.seconds * 2 / 3),
            fileStamps: [])
    }
}
