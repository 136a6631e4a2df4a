import Crypto
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import PostureModel
import PostureStore
import PostureStorePostgres
import PostureStoreSQLite
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
        let store = try Self.openServingStore(configuration, logger: logger)
        let keys = try SigningKeys.loadOrCreate(stateDirectory: configuration.stateDirectory)
        let sshCA = try SSHUserCA.loadOrCreate(stateDirectory: configuration.stateDirectory)
        core = try CollectorCore(
            configuration: configuration, ca: ca, store: store, keys: keys, sshCA: sshCA, logger: logger)
    }

    /// Before serving: waits while the store cannot be opened because its disk is full (SQLite needs a few
    /// pages for its WAL index), or while the PostgreSQL server cannot be reached, saying so once and in the
    /// unit's status line, instead of exiting into a restart loop; on PostgreSQL it also migrates the
    /// schema. Any other failure is thrown at once. Returns how long it waited.
    @discardableResult
    public static func waitForStore(
        _ configuration: CollectorConfiguration, logger: Logger, status: (String) -> Void = { _ in },
        retry: Duration = .seconds(5)
    ) async throws -> Duration {
        let start = ContinuousClock.now
        var said = false
        while true {
            do {
                if configuration.storage.driver == "postgresql" {
                    try await migrateSharedStore(configuration, logger: logger)
                } else {
                    _ = try openSQLite(configuration)
                }
                if said { logger.notice("the store opens again; starting") }
                return ContinuousClock.now - start
            } catch {
                if configuration.storage.driver == "postgresql" {
                    // A wrong configuration does not mend by waiting; an unreachable server may.
                    if error is CollectorError { throw error }
                    if !said {
                        logger.error(
                            "\(unreachable(configuration, error)); retrying every \(retry)",
                            metadata: ["posture.code": "internal_error"])
                        said = true
                    }
                    status("waiting for PostgreSQL: \(configuration.storage.url ?? "")")
                    try await Task.sleep(for: retry)
                    continue
                }
                guard let free = StateDirectory.freeBytes(configuration.sqlitePath), free < 4 << 20 else { throw error }
                if !said {
                    logger.error(
                        "the disk holding \(configuration.sqlitePath) is full (\(free) bytes free): waiting for space to open the store; free some (df, journalctl --vacuum-size, storage.keepAttestations): \(error)",
                        metadata: ["posture.code": "internal_error"])
                    said = true
                }
                status("waiting for disk space: \(configuration.sqlitePath) cannot be opened (\(free) bytes free)")
                try await Task.sleep(for: retry)
            }
        }
    }

    /// Both listeners as services. `onListening` is told each listener's name and bound address.
    public func services(onListening: @escaping @Sendable (String, String) async -> Void = { _, _ in }) throws
        -> [any Service]
    {
        let configuration = core.configuration
        let serverCertificate = try ServerCertificate(
            configuration: configuration, ca: core.ca, logger: core.logger
        ) { [core] notAfter in core.serverCertificateNotAfter.withLockedValue { $0 = notAfter } }
        let initial = serverCertificate.current
        var serverTLS = TLSConfiguration.makeServerConfiguration(
            certificateChain: initial.chain, privateKey: initial.key)
        serverTLS.minimumTLSVersion = .tlsv13
        // Each handshake takes the certificate current then: renewed or reloaded in place, no restart.
        serverTLS.sslContextCallback = serverCertificate.contextCallback

        var mutualTLS = serverTLS
        mutualTLS.certificateVerification = .noHostnameVerification
        mutualTLS.trustRoots = .certificates([try NIOSSLCertificate(bytes: Array(core.ca.pem.utf8), format: .pem)])
        mutualTLS.applicationProtocols = NegotiatedHTTPChannel.protocols
        // The API listener takes bearer tokens, or client certificates from the CA (optional, but verified
        // when presented); which certificates carry a role is decided per request.
        var apiTLS = serverTLS
        apiTLS.certificateVerification = .optionalVerification
        apiTLS.trustRoots = mutualTLS.trustRoots
        let handshake = HandshakeVerifier(
            ca: core.ca.certificate, trustDomain: configuration.trustDomain, store: core.store, logger: core.logger)

        let readiness = Readiness(collector: core)
        let enrollmentRouter = Router(context: CollectorRequestContext.self)
        enrollmentRouter.add(middleware: RequestMetricsMiddleware(listener: "enrollment", metrics: core.metrics))
        EnrollmentRoutes(collector: core).register(on: enrollmentRouter)
        readiness.register(on: enrollmentRouter)
        let deviceRouter = Router(context: CollectorRequestContext.self)
        deviceRouter.add(middleware: RequestMetricsMiddleware(listener: "devices", metrics: core.metrics))
        DeviceRoutes(collector: core).register(on: deviceRouter)
        readiness.register(on: deviceRouter)
        let apiRouter = Router(context: CollectorRequestContext.self)
        apiRouter.add(middleware: RequestMetricsMiddleware(listener: "api", metrics: core.metrics))
        APIRoutes(collector: core).register(on: apiRouter)
        readiness.register(on: apiRouter)
        try OpenAPIRoutes(collector: core).register(on: apiRouter)
        try DashboardRoutes(collector: core).register(on: apiRouter)

        // Every connection is bounded: per-listener caps below the descriptor limit (more wait unaccepted
        // in the backlog), a deadline for the TLS handshake, an idle timeout after it.
        let limits = configuration.limits
        let available = DescriptorLimit.raise(
            to: limits.totalConnections + CollectorConfiguration.Limits.reservedDescriptors)
        let scale = min(
            1, Double(available - CollectorConfiguration.Limits.reservedDescriptors) / Double(limits.totalConnections))
        if scale < 1 {
            core.logger.warning(
                "the descriptor limit (\(available)) is below limits.*Connections (\(limits.totalConnections)) plus \(CollectorConfiguration.Limits.reservedDescriptors); each listener's cap is scaled to \(Int(scale * 100))%: raise LimitNOFILE= in the unit or lower the caps"
            )
        }
        func cap(_ connections: Int) -> Int { max(1, Int(Double(connections) * max(scale, 0))) }
        let metrics = core.metrics
        let idleTimeout = Duration.nanoseconds(Int64(limits.idleTimeout.seconds * 1e9))
        @Sendable func deadline<Base: ServerChildChannel>(_ listener: String, _ base: Base) -> HandshakeDeadlineChannel<
            Base
        > {
            HandshakeDeadlineChannel(
                base: base, handshakeTimeout: .nanoseconds(Int64(limits.handshakeTimeout.seconds * 1e9)),
                onTimeout: { metrics.handshakeTimedOut(listener: listener) })
        }
        func server(_ listener: String, _ tls: TLSChannelConfiguration) -> HTTPServerBuilder {
            // The devices listener speaks HTTP/2 too (ALPN), so an agent needs one connection.
            if listener == "devices" {
                return HTTPServerBuilder { responder in
                    try TLSChannel(
                        deadline(listener, NegotiatedHTTPChannel(responder: responder, idleTimeout: idleTimeout)),
                        configuration: tls)
                }
            }
            return HTTPServerBuilder { responder in
                try TLSChannel(
                    deadline(
                        listener,
                        HTTP1Channel(responder: responder, configuration: .init(idleTimeout: .init(idleTimeout)))),
                    configuration: tls)
            }
        }

        func application(
            _ name: String, _ router: Router<CollectorRequestContext>, _ address: String,
            _ tls: TLSChannelConfiguration, connections: Int
        )
            throws -> some Service
        {
            guard let hostPort = HostPort(address) else {
                throw CollectorError(.configuration, "listen.\(name) '\(address)' is not host:port")
            }
            return Application(
                router: router, server: server(name, tls),
                configuration: ApplicationConfiguration(
                    address: .hostname(hostPort.host, port: hostPort.port), serverName: "posture-collector",
                    backlog: 4096, availableConnectionsDelegate: MaximumAvailableConnections(cap(connections))),
                onServerRunning: { [core] channel in
                    if name == "devices" { core.boundDevicesPort.withLockedValue { $0 = channel.localAddress?.port } }
                    if name == "api" { core.issuerSource.boundPort.withLockedValue { $0 = channel.localAddress?.port } }
                    await onListening(name, "\(hostPort.host):\(channel.localAddress?.port ?? hostPort.port)")
                },
                logger: core.logger)
        }
        // The shared store's client first: the group stops services in reverse, so it stops last.
        let storeClient: [any Service] = (core.store as? PostgresStore).map { [$0] } ?? []
        return storeClient + [
            try application(
                "enrollment", enrollmentRouter, configuration.listen.enrollment,
                TLSChannelConfiguration(tlsConfiguration: serverTLS), connections: limits.enrollmentConnections),
            try application(
                "devices", deviceRouter, configuration.listen.devices,
                TLSChannelConfiguration(
                    tlsConfiguration: mutualTLS,
                    customAsyncVerificationCallback: { chain in await handshake.verify(chain) }),
                connections: limits.devicesConnections),
            try application(
                "api", apiRouter, configuration.listen.api, TLSChannelConfiguration(tlsConfiguration: apiTLS),
                connections: limits.apiConnections),
            VerdictLoop(collector: core),
        ] + CollectorLoop.all(core) + [
            CredentialRenewal(certificate: serverCertificate, keys: core.keys, logger: core.logger)
        ]
    }
}

/// Keeps the server certificate current (renewal at two thirds of its life, the operator's files re-read
/// on change and on SIGHUP) and follows the signing-key schedule (`keys rotate`) as its file changes.
struct CredentialRenewal: Service {
    let certificate: ServerCertificate
    let keys: SigningKeys
    let logger: Logger

    func refreshKeys() {
        do {
            if try keys.refresh() {
                logger.notice(
                    "signing-key schedule reloaded",
                    metadata: ["posture.event": "signing-keys-reloaded", "posture.jwks": "\(keys.jwks())"])
            }
        } catch {
            logger.error("signing-key schedule not reloaded, keeping the keys in use: \(error)")
        }
    }

    func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await certificate.run() }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(5))
                        refreshKeys()
                    }
                }
                group.addTask {
                    for await _ in hangups {
                        certificate.refresh(force: true)
                        refreshKeys()
                    }
                }
                await group.next()
                group.cancelAll()
            }
        }
    }
}

/// Loads the verdicts (every device evaluated under the policy) and runs the clock that applies what is
/// not announced: the policy file and verdicts due by time, every 250 ms; operator actions too on an SQLite
/// store (the offline CLI writes the same file); a shared store announces them (`SharedStoreEvents`), so
/// its poll of the action log is only a catch-up every 5 s for notifications missed while LISTEN reconnected.
/// The loops that need the verdicts loaded are `CollectorLoop`s beside it in the service group.
struct VerdictLoop: Service {
    let collector: CollectorCore

    func run() async throws {
        try await collector.transmitter.load()
        await collector.verdicts.setTransmitter(collector.transmitter)
        try await collector.verdicts.start()
        let shared = collector.store is any SharedStoreEvents
        await cancelWhenGracefulShutdown {
            var polled = ContinuousClock.now
            while !Task.isCancelled {
                let poll = !shared || ContinuousClock.now - polled >= .seconds(5)
                if poll { polled = ContinuousClock.now }
                await collector.verdicts.tick(actions: poll)
                try? await Task.sleep(for: .milliseconds(250))
            }
        }
        // Shut down before the listeners (services stop in reverse order): their graceful shutdown waits for
        // requests in flight, and a held long-poll would otherwise hold it for up to 300 s.
        await collector.verdicts.shutDown()
    }
}

/// One of the collector's long-running loops, as its own service: it starts once `VerdictLoop` has loaded
/// the verdicts and runs until the group shuts down.
struct CollectorLoop: Service, CustomStringConvertible {
    let description: String
    let collector: CollectorCore
    let body: @Sendable (CollectorCore) async -> Void

    func run() async throws {
        let collector = collector
        let body = body
        // A shutdown while the verdicts still load ends the wait too.
        try? await cancelWhenGracefulShutdown {
            while await !collector.verdicts.isStarted { try await Task.sleep(for: .milliseconds(50)) }
            await body(collector)
        }
    }

    /// Every loop but the verdict clock, in the order they start (they stop in reverse).
    static func all(_ collector: CollectorCore) -> [CollectorLoop] {
        var loops = [
            // RFC 8935 push: each stream's SETs, woken when new ones are queued.
            CollectorLoop(description: "ssf-push", collector: collector) { await $0.transmitter.runPushDelivery() },
            // History past storage.keepAttestations and the retention windows, hourly, by one collector.
            CollectorLoop(description: "retention", collector: collector) {
                await HistoryRetention(collector: $0).run()
            },
            // SIGHUP reloads the policy.
            CollectorLoop(description: "policy-reload", collector: collector) { collector in
                for await _ in await UnixSignalsSequence(trapping: .sighup) {
                    await collector.verdicts.reloadPolicy(cause: "SIGHUP")
                }
            },
            // systemd restarts a collector whose verdict actor stops answering (WatchdogSec=).
            CollectorLoop(description: "watchdog", collector: collector) { collector in
                await SystemdNotifier.feedWatchdog { await collector.verdicts.isResponsive() }
            },
        ]
        // What other collectors of a shared store change, as it commits: their devices' reports and verdicts
        // are read again (long-polls here wake), their operator actions applied at once.
        if let shared = collector.store as? any SharedStoreEvents {
            loops.append(
                CollectorLoop(description: "shared-store-events", collector: collector) { collector in
                    for await event in shared.events() {
                        switch event {
                        case .device(let id): await collector.verdicts.refresh(id)
                        case .action: await collector.verdicts.applyActions()
                        }
                    }
                })
        }
        return loops
    }
}
