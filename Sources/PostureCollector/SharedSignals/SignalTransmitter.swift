import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import PostureModel
import PostureStore
import PostureVerdict

/// The OpenID Shared Signals transmitter: streams that receivers register, CAEP `device-compliance-change`
/// Security Event Tokens queued in the store's outbox in the same transaction as the verdict change, and
/// delivered by push (RFC 8935, retried with backoff until the receiver answers 202) or poll (RFC 8936,
/// removed once the receiver acknowledges). A restart resumes from the outbox.
actor SignalTransmitter {
    static let complianceChange = "https://schemas.openid.net/secevent/caep/event-type/device-compliance-change"
    static let pushMethod = "urn:ietf:rfc:8935"
    static let pollMethod = "urn:ietf:rfc:8936"

    let store: any PostureStore
    /// One collector of a shared store at a time pushes each stream.
    private let leases: Leases
    let keys: SigningKeys
    private let issuerSource: Issuer
    var issuer: String { issuerSource.value }
    let trustDomain: String
    let logger: Logger
    let client: HTTPClient
    let metrics: CollectorMetrics
    let destinations: DestinationPolicy
    private var streams: [String: StreamRecord] = [:]
    private var pushSleeper: (UUID, CheckedContinuation<Void, Never>)?
    private var pollWaiters: [UUID: CheckedContinuation<Void, Never>] = [:]

    init(
        store: any PostureStore, keys: SigningKeys, issuer: Issuer, trustDomain: String, metrics: CollectorMetrics,
        logger: Logger, ssf: CollectorConfiguration.SSF = .init()
    ) throws {
        self.metrics = metrics
        destinations = DestinationPolicy(allowed: ssf.allowedDestinations)
        self.store = store
        leases = Leases(store: store)
        self.keys = keys
        issuerSource = issuer
        self.trustDomain = trustDomain
        self.logger = logger
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(10))
        // Receivers are verified (the system's roots, and ssf.caBundle for a private PKI), TLS 1.2 at least;
        // no redirects: a receiver cannot bounce a SET to a destination the policy refuses.
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let bundle = ssf.caBundle {
            do {
                tls.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(bundle))]
            } catch {
                throw CollectorError(.configuration, "ssf.caBundle \(bundle) is not a readable PEM bundle: \(error)")
            }
        }
        configuration.tlsConfiguration = tls
        configuration.redirectConfiguration = .disallow
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func load() async throws {
        for stream in try await store.streams() where stream.status != "deleted" { streams[stream.id] = stream }
    }

    // MARK: Events

    /// One SET per enabled stream that asked for compliance changes; none when CAEP's two-valued status
    /// (`compliant`, `not-compliant`: unknown counts as not compliant) did not change.
    func events(for verdict: Verdict, previous: ComplianceStatus?, entry: VerdictService.Entry, now: Date)
        -> [OutboxEntry]
    {
        // A receiver hears of changes; a device's first verdict (at enrollment) is not one.
        guard let previous else { return [] }
        let current = Self.caepStatus(verdict.status)
        let before = Self.caepStatus(previous)
        guard current != before else { return [] }
        var result: [OutboxEntry] = []
        for stream in streams.values
        where stream.status == "enabled" && stream.eventsRequested.contains(Self.complianceChange) {
            let jti = UUID().uuidString.lowercased()
            var reason =
                verdict.failing.map { "\($0.rule): \($0.observed)" }
                + verdict.unknown.map { "\($0.rule): \($0.observed)" }
            if let quarantine = verdict.quarantine {
                reason.insert("quarantined by \(quarantine.by): \(quarantine.reason)", at: 0)
            }
            let claims: [String: Any] = [
                "iss": issuer, "jti": jti, "iat": Int(now.timeIntervalSince1970), "aud": stream.audience,
                "sub_id": [
                    "format": "complex",
                    "device": [
                        "format": "uri",
                        "uri": DeviceIdentity(trustDomain: trustDomain, deviceID: verdict.deviceID).uri,
                    ],
                ],
                "events": [
                    Self.complianceChange: [
                        "previous_status": before, "current_status": current,
                        "event_timestamp": Int(now.timeIntervalSince1970),
                        "initiating_entity": verdict.quarantine == nil ? "policy" : "admin",
                        "reason_admin": ["en": reason.isEmpty ? "all rules pass" : reason.joined(separator: "; ")],
                    ]
                ],
                "posture": [
                    "device_id": verdict.deviceID, "machine_id": entry.machineID, "hostname": entry.hostname,
                    "status": verdict.status.rawValue, "risk": verdict.risk, "verdict_version": verdict.version,
                ],
            ]
            guard let body = try? JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys]),
                let set = try? keys.sign(claims: body, type: "secevent+jwt", algorithm: stream.algorithm)
            else { continue }
            result.append(OutboxEntry(streamID: stream.id, jti: jti, setJWT: set, createdAt: now, nextAttemptAt: now))
        }
        return result
    }

    static func caepStatus(_ status: ComplianceStatus) -> String {
        status == .compliant ? "compliant" : "not-compliant"
    }

    /// New SETs are queued: wake the push loop and every waiting poll.
    func wake() {
        if let (_, sleeper) = pushSleeper {
            pushSleeper = nil
            sleeper.resume()
        }
        let waiting = pollWaiters
        pollWaiters = [:]
        for waiter in waiting.values { waiter.resume() }
    }

    private func sleepPush(upTo duration: Duration) async {
        let key = UUID()
        await withCheckedContinuation { continuation in
            pushSleeper = (key, continuation)
            Task { [weak self] in
                try? await Task.sleep(for: duration)
                await self?.endPushSleep(key)
            }
        }
    }

    private func endPushSleep(_ key: UUID) {
        guard let (current, sleeper) = pushSleeper, current == key else { return }
        pushSleeper = nil
        sleeper.resume()
    }

    private func waitForEvents(upTo duration: Duration) async {
        let key = UUID()
        await withCheckedContinuation { continuation in
            pollWaiters[key] = continuation
            Task { [weak self] in
                try? await Task.sleep(for: duration)
                await self?.endPollWait(key)
            }
        }
    }

    private func endPollWait(_ key: UUID) {
        pollWaiters.removeValue(forKey: key)?.resume()
    }

    // MARK: Push delivery

    /// Delivers due SETs to push streams until cancelled.
    func runPushDelivery() async {
        var reloaded = ContinuousClock.now
        while !Task.isCancelled {
            var delivered = false
            for stream in streams.values where stream.deliveryMethod == Self.pushMethod && stream.status == "enabled" {
                // One collector at a time pushes a stream, so its SETs go once and in order; another takes
                // over within 30 s of the holder's death.
                guard await leases.hold("ssf-push \(stream.id)", for: .seconds(30)) else { continue }
                delivered = await deliver(stream) || delivered
            }
            if !delivered { await sleepPush(upTo: .seconds(1)) }
            // Streams other collectors of a shared store created, changed or deleted.
            if store is any SharedStoreEvents, ContinuousClock.now - reloaded > .seconds(5) {
                reloaded = ContinuousClock.now
                if let stored = try? await store.streams() {
                    streams = Dictionary(
                        stored.filter { $0.status != "deleted" }.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
                }
            }
        }
        try? await client.shutdown()
    }

    /// True when something was delivered (so the loop goes round again at once).
    private func deliver(_ stream: StreamRecord) async -> Bool {
        guard let url = stream.endpointURL,
            let pending = try? await store.pendingOutbox(streamID: stream.id, dueBy: Date(), limit: 100)
        else { return false }
        var progress = false
        // DNS may have changed since the stream was created: the destination is checked again.
        do {
            try destinations.check(url)
        } catch {
            for entry in pending.prefix(1) {
                try? await store.markFailed(
                    id: entry.id, error: error.message, nextAttemptAt: Date().addingTimeInterval(300))
            }
            logger.warning(
                "SET delivery held: \(error.message)", metadata: ["posture.stream": "\(stream.id)"])
            return false
        }
        for entry in pending {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/secevent+jwt")
            request.headers.add(name: "Accept", value: "application/json")
            if let authorization = stream.authorizationHeader {
                request.headers.add(name: "Authorization", value: authorization)
            }
            request.body = .bytes(ByteBuffer(string: entry.setJWT))
            let failure: String
            do {
                let response = try await client.execute(request, timeout: .seconds(10))
                let body = try? await response.body.collect(upTo: 64 << 10)
                switch Self.outcome(status: Int(response.status.code), body: body.map { Array($0.readableBytesView) }) {
                case .delivered:
                    _ = try? await store.markDelivered(streamID: stream.id, jtis: [entry.jti], at: Date())
                    metrics.signalDelivery("delivered")
                    progress = true
                    continue
                case .rejected(let reason):
                    // RFC 8935 §2.4: the receiver will never take this SET; retrying cannot help, and the
                    // stream goes on with the next one.
                    _ = try? await store.markRejected(id: entry.id, error: reason, at: Date())
                    metrics.signalDelivery("rejected")
                    logger.warning(
                        "SET rejected by the receiver, not retried: \(reason)",
                        metadata: ["posture.stream": "\(stream.id)", "posture.jti": "\(entry.jti)"])
                    progress = true
                    continue
                case .retry(let reason):
                    failure = reason
                }
            } catch {
                failure = "\(error)"
            }
            // Exponential backoff from 1 s, at most 5 min; order is kept: later SETs wait for this one.
            let delay: Double = Swift.min(300.0, Foundation.pow(2.0, Double(Swift.min(entry.attempts, 9))))
            try? await store.markFailed(id: entry.id, error: failure, nextAttemptAt: Date().addingTimeInterval(delay))
            metrics.signalDelivery("retry")
            logger.warning(
                "SET delivery failed, retrying in \(Int(delay)) s: \(failure)",
                metadata: ["posture.stream": "\(stream.id)", "posture.jti": "\(entry.jti)"])
            break
        }
        return progress
    }

    enum Outcome: Equatable {
        case delivered
        /// A permanent error for this SET (RFC 8935 §2.4 `err`).
        case rejected(String)
        case retry(String)
    }

    /// What a push answer means: 202/200 delivered; 400 with an RFC 8935 error object (`err`) rejected
    /// for good; anything else (5xx, 429, a 400 without `err`, a redirect) retried with backoff.
    static func outcome(status: Int, body: [UInt8]?) -> Outcome {
        if status == 202 || status == 200 { return .delivered }
        let text = body.map { String(decoding: $0.prefix(300), as: UTF8.self) } ?? ""
        if status == 400, let body,
            let error = try? JSONDecoder().decode(DeliveryError.self, from: Data(body)), !error.err.isEmpty
        {
            return .rejected("\(error.err)\(error.description.map { ": " + String($0.prefix(200)) } ?? "")")
        }
        return .retry("HTTP \(status) \(text.prefix(200))")
    }

    /// RFC 8935 §2.4 / RFC 8936 §2.4.4: `{"err": "invalid_audience", "description": "…"}`.
    struct DeliveryError: Codable, Equatable {
        var err: String
        var description: String?
    }

    // MARK: Poll delivery

    /// RFC 8936: acknowledges `acks`, then returns up to `maxEvents` unacknowledged SETs, waiting up to
    /// `wait` for one when there are none and the receiver did not ask to return immediately.
    func poll(
        streamID: String, acks: [String], errors: [String: DeliveryError] = [:], maxEvents: Int, wait: Duration?
    ) async throws -> ([String: String], Bool) {
        _ = try await store.markDelivered(streamID: streamID, jtis: acks, at: Date())
        // RFC 8936 setErrs: the receiver will never take these; recorded, not offered again.
        for (jti, error) in errors.prefix(1000) {
            let reason = "\(error.err)\(error.description.map { ": " + String($0.prefix(200)) } ?? "")"
            if try await store.markRejected(streamID: streamID, jti: jti, error: reason, at: Date()) {
                metrics.signalDelivery("rejected")
            }
        }
        var pending = try await store.pendingOutbox(streamID: streamID, dueBy: nil, limit: maxEvents + 1)
        if let wait {
            let deadline = ContinuousClock.now + wait
            while pending.isEmpty && ContinuousClock.now < deadline && !Task.isCancelled {
                await waitForEvents(upTo: deadline - ContinuousClock.now)
                pending = try await store.pendingOutbox(streamID: streamID, dueBy: nil, limit: maxEvents + 1)
            }
        }
        let more = pending.count > maxEvents
        var sets: [String: String] = [:]
        for entry in pending.prefix(maxEvents) { sets[entry.jti] = entry.setJWT }
        return (sets, more)
    }

    // MARK: Streams

    func stream(_ id: String) -> StreamRecord? { streams[id] }
    func streams(tokenID: String) -> [StreamRecord] {
        streams.values.filter { $0.tokenID == tokenID }.sorted { $0.createdAt < $1.createdAt }
    }

    func save(_ stream: StreamRecord) async throws {
        if stream.status != "deleted", let endpoint = stream.endpointURL { try destinations.check(endpoint) }
        try await store.upsertStream(stream)
        if stream.status == "deleted" { streams.removeValue(forKey: stream.id) } else { streams[stream.id] = stream }
        wake()
    }
}
