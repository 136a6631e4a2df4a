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
    private var lastVerification: [String: ContinuousClock.Instant] = [:]
    private var setFactory: SecurityEvents { SecurityEvents(issuer: issuer, trustDomain: trustDomain, keys: keys) }
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

    /// One CAEP compliance change per stream that asked for them, when the two-valued status changed. A
    /// paused stream's are held for it (SSF §8.1.2.1); a disabled stream gets none.
    func events(
        for verdict: Verdict, previous: ComplianceStatus?, entry: VerdictService.Entry, cause: EvaluationCause,
        now: Date
    ) -> [OutboxEntry] {
        // A receiver hears of changes; a device's first verdict (at enrollment) is not one.
        guard let previous else { return [] }
        let before = SecurityEvents.caepStatus(previous)
        guard SecurityEvents.caepStatus(verdict.status) != before else { return [] }
        return streams.values.sorted { $0.createdAt < $1.createdAt }.compactMap { stream in
            guard stream.status != "disabled", stream.eventsRequested.contains(SecurityEvents.complianceChange)
            else { return nil }
            return setFactory.complianceChange(
                verdict, before: before, entry: entry, cause: cause, stream: stream, now: now)
        }
    }

    /// SSF §8.1.4: queues a verification event for the stream, which its receiver asked for. Held like any
    /// other while the stream is paused; refused while it is disabled, since nothing would deliver it.
    func verify(_ stream: StreamRecord, state: String?, now: Date = Date()) async throws {
        // SSF §8.1.4.2: more often than min_verification_interval may be refused with 429; it also bounds
        // what a receiver that never collects its events can queue.
        let interval = Duration.seconds(StreamConfiguration.minVerificationInterval)
        if let last = lastVerification[stream.id], ContinuousClock.now - last < interval {
            throw AttestationRefusal(
                .overloaded,
                "stream \(stream.id) was verified less than min_verification_interval (\(interval)) ago; wait and ask again"
            )
        }
        lastVerification[stream.id] = ContinuousClock.now
        guard stream.status != "disabled" else {
            throw AttestationRefusal(
                .conflict,
                "stream \(stream.id) is disabled; enable it first (POST /ssf/status with \"status\": \"enabled\")")
        }
        guard let entry = setFactory.verification(on: stream, state: state, now: now) else {
            throw AttestationRefusal(
                .internalError, "no key can sign the verification event (posture-collector keys list)")
        }
        try await store.insertOutbox([entry])
        wake()
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

    /// Until `wake()` or `duration`, whichever first. The timer is a child task: nothing outlives the call.
    private func sleepPush(upTo duration: Duration) async {
        let key = UUID()
        await withTaskGroup(of: Void.self) { group in
            // Ends the sleep at the deadline, or at once when cancelled (woken early, or the caller cancelled).
            group.addTask {
                try? await Task.sleep(for: duration)
                await self.endPushSleep(key)
            }
            // Registered before the actor can run the timer's end: no suspension point lies between.
            await withCheckedContinuation { continuation in pushSleeper = (key, continuation) }
            group.cancelAll()
        }
    }

    private func endPushSleep(_ key: UUID) {
        guard let (current, sleeper) = pushSleeper, current == key else { return }
        pushSleeper = nil
        sleeper.resume()
    }

    /// Until SETs are queued or `duration` passes, with the timer a child task as in `sleepPush`.
    private func waitForEvents(upTo duration: Duration) async {
        let key = UUID()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await Task.sleep(for: duration)
                await self.endPollWait(key)
            }
            await withCheckedContinuation { continuation in pollWaiters[key] = continuation }
            group.cancelAll()
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
            // A paused or disabled stream still gets the stream-updated SET that announced it (SSF §8.1.5).
            for stream in streams.values where stream.deliveryMethod == Self.pushMethod {
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

    /// Closes the push client when `runPushDelivery` never ran (a core built for a test or a tool).
    func closeClient() async { try? await client.shutdown() }

    /// True when something was delivered (so the loop goes round again at once).
    private func deliver(_ stream: StreamRecord) async -> Bool {
        guard let url = stream.endpointURL,
            let due = try? await store.pendingOutbox(streamID: stream.id, dueBy: Date(), limit: 100)
        else { return false }
        let pending = stream.status == "enabled" ? due : due.filter { Self.announcesStatus($0.setJWT) }
        guard !pending.isEmpty else { return false }
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
        // A paused stream's SETs are held until it is enabled again, and a disabled one has none, except
        // the stream-updated SET that told the receiver so.
        guard streams[streamID]?.status == "enabled" else {
            let announcements = try await store.pendingOutbox(streamID: streamID, dueBy: nil, limit: 1000)
                .filter { Self.announcesStatus($0.setJWT) }.prefix(maxEvents)
            return (Dictionary(announcements.map { ($0.jti, $0.setJWT) }, uniquingKeysWith: { $1 }), false)
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

    /// SSF §8.1.2.2: the receiver's new status for its stream. A stream-updated event, which SSF requires
    /// only when the transmitter changes the status itself, confirms a resume to a stream that asked for
    /// them; a pause or disable has nothing to deliver it by.
    func setStatus(_ stream: StreamRecord, to status: String, reason: String?, now: Date = Date()) async throws
        -> StreamRecord
    {
        var updated = stream
        updated.status = status
        updated.statusReason = reason
        try await save(updated)
        if stream.status != status, status == "enabled",
            updated.eventsRequested.contains(SecurityEvents.streamUpdated),
            let entry = setFactory.streamUpdated(on: updated, now: now)
        {
            try await store.insertOutbox([entry])
            wake()
        }
        return updated
    }

    /// SSF §8.1.2, §8.1.5: the transmitter's operator enables, pauses or disables a stream. The receiver is
    /// told by a stream-updated SET whether it asked for them or not: queued before a pause or disable
    /// takes effect (and delivered although the stream is stopped), after an enable.
    func operatorSetStatus(_ stream: StreamRecord, to status: String, reason: String?, now: Date = Date())
        async throws -> StreamRecord
    {
        var updated = stream
        updated.status = status
        updated.statusReason = reason
        guard let announcement = setFactory.streamUpdated(on: updated, now: now) else {
            throw AttestationRefusal(
                .internalError, "no key can sign the stream-updated event (posture-collector keys list)")
        }
        if status == "enabled" { try await save(updated) }
        try await store.insertOutbox([announcement])
        if status != "enabled" { try await save(updated) }
        wake()
        return updated
    }

    /// Whether a queued SET is a stream-updated event (read from the payload this collector signed).
    static func announcesStatus(_ set: String) -> Bool {
        let parts = set.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let payload = Base64URL.decode(String(parts[1])),
            let claims = try? JSONSerialization.jsonObject(with: payload) as? [String: Any],
            let events = claims["events"] as? [String: Any]
        else { return false }
        return events[SecurityEvents.streamUpdated] != nil
    }

    /// Every stream of every receiver, for the transmitter's operators.
    func allStreams() -> [StreamRecord] { streams.values.sorted { $0.createdAt < $1.createdAt } }

    func save(_ stream: StreamRecord) async throws {
        if stream.status != "deleted", let endpoint = stream.endpointURL { try destinations.check(endpoint) }
        try await store.upsertStream(stream)
        if stream.status == "deleted" { streams.removeValue(forKey: stream.id) } else { streams[stream.id] = stream }
        wake()
    }
}
