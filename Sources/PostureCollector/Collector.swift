import Crypto
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import PostureModel
import PostureStore
import ServiceLifecycle
import SystemdNotify
import UnixSignals
import X509

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The collector, opened from its configuration: state directory, CA, store, and its two listeners.
public struct Collector: Sendable {
    public let core: CollectorCore

    public init(configuration: CollectorConfiguration, logger: Logger) throws {
        try StateDirectory.prepare(configuration.stateDirectory)
        let ca = try CertificateAuthority.loadOrCreate(configuration, now: Date())
        let store = try Self.openStore(configuration)
        let keys = try SigningKeys.loadOrCreate(stateDirectory: configuration.stateDirectory)
        core = try CollectorCore(configuration: configuration, ca: ca, store: store, keys: keys, logger: logger)
    }

    public static func openStore(_ configuration: CollectorConfiguration) throws -> SQLiteStore {
        try StateDirectory.prepare(configuration.stateDirectory)
        do {
            return try SQLiteStore(path: configuration.sqlitePath)
        } catch {
            throw CollectorError(
                .storage, "cannot open the SQLite store \(configuration.sqlitePath) (storage.sqlitePath): \(error)")
        }
    }

    /// Both listeners as services. `onListening` is told each listener's name and bound address.
    public func services(onListening: @escaping @Sendable (String, String) async -> Void = { _, _ in }) throws
        -> [any Service]
    {
        let configuration = core.configuration
        let (chain, key) = try serverIdentity()
        var serverTLS = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: key)
        serverTLS.minimumTLSVersion = .tlsv13

        var mutualTLS = serverTLS
        mutualTLS.certificateVerification = .noHostnameVerification
        mutualTLS.trustRoots = .certificates([try NIOSSLCertificate(bytes: Array(core.ca.pem.utf8), format: .pem)])
        // The API listener takes bearer tokens, or client certificates from the CA (optional, but verified
        // when presented); which certificates carry a role is decided per request.
        var apiTLS = serverTLS
        apiTLS.certificateVerification = .optionalVerification
        apiTLS.trustRoots = mutualTLS.trustRoots
        let handshake = HandshakeVerifier(
            ca: core.ca.certificate, trustDomain: configuration.trustDomain, store: core.store, logger: core.logger)

        let enrollmentRouter = Router(context: CollectorRequestContext.self)
        enrollmentRouter.add(middleware: RequestMetricsMiddleware(listener: "enrollment", metrics: core.metrics))
        EnrollmentRoutes(collector: core).register(on: enrollmentRouter)
        let deviceRouter = Router(context: CollectorRequestContext.self)
        deviceRouter.add(middleware: RequestMetricsMiddleware(listener: "devices", metrics: core.metrics))
        DeviceRoutes(collector: core).register(on: deviceRouter)
        let apiRouter = Router(context: CollectorRequestContext.self)
        apiRouter.add(middleware: RequestMetricsMiddleware(listener: "api", metrics: core.metrics))
        APIRoutes(collector: core).register(on: apiRouter)
        FleetRoutes(collector: core).register(on: apiRouter)
        try DashboardRoutes(collector: core).register(on: apiRouter)

        func application(
            _ name: String, _ router: Router<CollectorRequestContext>, _ address: String, _ server: HTTPServerBuilder
        )
            throws -> some Service
        {
            guard let hostPort = HostPort(address) else {
                throw CollectorError(.configuration, "listen.\(name) '\(address)' is not host:port")
            }
            return Application(
                router: router, server: server,
                configuration: ApplicationConfiguration(
                    address: .hostname(hostPort.host, port: hostPort.port), serverName: "posture-collector"),
                onServerRunning: { [core] channel in
                    if name == "devices" { core.boundDevicesPort.withLockedValue { $0 = channel.localAddress?.port } }
                    if name == "api" { core.issuerSource.boundPort.withLockedValue { $0 = channel.localAddress?.port } }
                    await onListening(name, "\(hostPort.host):\(channel.localAddress?.port ?? hostPort.port)")
                },
                logger: core.logger)
        }
        return [
            try application(
                "enrollment", enrollmentRouter, configuration.listen.enrollment, .tls(tlsConfiguration: serverTLS)),
            try application(
                "devices", deviceRouter, configuration.listen.devices,
                .tls(
                    configuration: TLSChannelConfiguration(
                        tlsConfiguration: mutualTLS,
                        customAsyncVerificationCallback: { chain in await handshake.verify(chain) }))),
            try application("api", apiRouter, configuration.listen.api, .tls(tlsConfiguration: apiTLS)),
            VerdictLoop(collector: core),
        ]
    }

    /// The operator's server certificate, or one the CA issues for `tls.serverNames` at every start.
    private func serverIdentity() throws -> ([NIOSSLCertificateSource], NIOSSLPrivateKeySource) {
        let configuration = core.configuration
        if let certificatePath = configuration.tls.certificate, let keyPath = configuration.tls.key {
            do {
                return (
                    try NIOSSLCertificate.fromPEMFile(certificatePath).map { .certificate($0) },
                    .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem))
                )
            } catch {
                throw CollectorError(
                    .pki, "cannot load tls.certificate \(certificatePath) / tls.key \(keyPath): \(error)")
            }
        }
        let key = P256.Signing.PrivateKey()
        let certificate = try core.ca.issueServerCertificate(
            names: configuration.tls.serverNames, publicKey: key.publicKey, now: Date())
        let pem = try certificate.serializeAsPEM().pemString
        try StateDirectory.write(pem, to: configuration.stateDirectory + "/server.crt", mode: 0o644)
        return (
            [.certificate(try NIOSSLCertificate(bytes: Array(pem.utf8), format: .pem))],
            .privateKey(try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem))
        )
    }
}

/// Starts the verdicts (load, evaluate), SSF push delivery, retention, and the tick that applies operator
/// actions, policy changes and time; SIGHUP reloads the policy.
struct VerdictLoop: Service {
    let collector: CollectorCore

    func run() async throws {
        try await collector.transmitter.load()
        try await collector.verdicts.setTransmitter(collector.transmitter)
        try await collector.verdicts.start()
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        try? await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await collector.transmitter.runPushDelivery() }
                group.addTask { await HistoryRetention(collector: collector).run() }
                group.addTask {
                    for await _ in hangups { await collector.verdicts.reloadPolicy(cause: "SIGHUP") }
                }
                // systemd restarts a collector whose verdict actor stops answering (WatchdogSec=).
                group.addTask { await SystemdNotifier.feedWatchdog { await collector.verdicts.isResponsive() } }
                group.addTask {
                    while !Task.isCancelled {
                        await collector.verdicts.tick()
                        try? await Task.sleep(for: .milliseconds(250))
                    }
                }
                await group.next()
                group.cancelAll()
            }
        }
    }
}
