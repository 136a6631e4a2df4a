import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NIOSSL
import PostureModel
import Synchronization
import X509

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// How one request to the collector ended.
public enum CollectorAnswer<Value: Sendable>: Sendable {
    case accepted(Value)
    /// The collector said no, with its stable code (4xx).
    case refused(ErrorBody, status: Int)
    /// Down, unreachable, timed out, or 5xx: try again later.
    case unavailable(String)
    /// Up but too busy (429, or 503 with Retry-After): keep everything and come back after `retryAfter`,
    /// plus jitter.
    case busy(String, retryAfter: Duration)
}

/// HTTPS to the collector over one pooled, keep-alive client; TLS 1.3 only, trusting only the pinned CA,
/// presenting the device certificate when there is one. With several collectors (a shared store), a
/// request that cannot reach one, or that one answers 5xx, moves the client on to the next: the caller's
/// retry goes there.
public final class CollectorClient: Sendable {
    private let client: HTTPClient
    /// The client's TLS configuration, for `HandshakeProbe`.
    private let tls: TLSConfiguration
    private let baseURLs: [String]
    private let current = Mutex(0)

    /// The collector requests go to now.
    public var baseURL: String { baseURLs[current.withLock { $0 }] }

    /// Whom the client trusts as the collector.
    public enum ServerTrust: Sendable {
        /// The collector's CA (PEM): the pinned or configured private CA.
        case ca(String)
        /// The system's root certificates: a collector with a publicly trusted certificate.
        case systemRoots
        /// No verification, only to fetch the CA during enrollment: the caller must check what it gets
        /// against the pinned fingerprint before trusting anything.
        case unverifiedForPinning
    }

    /// - Parameters:
    ///   - caPEM: the collector's CA; nil trusts the system's roots (never "no verification").
    ///   - identity: the device certificate and key PEM, for mutual TLS.
    ///   - httpVersion: `.automatic` (HTTP/2 where the collector offers it, as agents connect); the
    ///     benchmark asks for HTTP/1.1 to show what the transport costs.
    public convenience init(
        baseURL: String, caPEM: String?, identity: (certificate: String, key: String)? = nil,
        httpVersion: HTTPClient.Configuration.HTTPVersion = .automatic
    ) throws {
        try self.init(baseURLs: [baseURL], caPEM: caPEM, identity: identity, httpVersion: httpVersion)
    }

    public convenience init(
        baseURLs: [String], caPEM: String?, identity: (certificate: String, key: String)? = nil,
        httpVersion: HTTPClient.Configuration.HTTPVersion = .automatic
    ) throws {
        try self.init(
            baseURLs: baseURLs, trust: caPEM.map(ServerTrust.ca) ?? .systemRoots, identity: identity,
            httpVersion: httpVersion)
    }

    public convenience init(baseURL: String, trust: ServerTrust, identity: (certificate: String, key: String)? = nil)
        throws
    {
        try self.init(baseURLs: [baseURL], trust: trust, identity: identity)
    }

    public convenience init(
        baseURLs: [String], trust: ServerTrust, identity: (certificate: String, key: String)? = nil,
        httpVersion: HTTPClient.Configuration.HTTPVersion = .automatic
    ) throws {
        try self.init(
            baseURLs: baseURLs, trust: trust,
            certificate: try identity.map { try ClientCertificate(certificatePEM: $0.certificate, keyPEM: $0.key) },
            httpVersion: httpVersion)
    }

    public init(
        baseURLs: [String], trust: ServerTrust, certificate identity: ClientCertificate?,
        httpVersion: HTTPClient.Configuration.HTTPVersion = .automatic
    ) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv13
        switch trust {
        case .ca(let caPEM): tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)))
        case .systemRoots: break
        case .unverifiedForPinning: tls.certificateVerification = .none
        }
        if let identity {
            tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(identity.certificatePEM.utf8)).map {
                .certificate($0)
            }
            tls.privateKey = .privateKey(identity.key)
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        // Reads may wait as long as a verdict long-poll (25 s) and then some.
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(40))
        configuration.connectionPool = .init(idleTimeout: .seconds(120))
        configuration.httpVersion = httpVersion
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.tls = tls
        let urls = baseURLs.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.baseURLs = urls.isEmpty ? ["https://localhost"] : urls
    }

    public func shutdown() async {
        try? await client.shutdown()
    }

    /// Runs `body` with a client that is shut down afterwards, whatever happens.
    public static func using<T: Sendable>(
        baseURL: String, caPEM: String?, identity: (certificate: String, key: String)? = nil,
        _ body: (CollectorClient) async throws -> T
    ) async throws -> T {
        try await using(baseURL: baseURL, trust: caPEM.map(ServerTrust.ca) ?? .systemRoots, identity: identity, body)
    }

    public static func using<T: Sendable>(
        baseURL: String, trust: ServerTrust, identity: (certificate: String, key: String)? = nil,
        _ body: (CollectorClient) async throws -> T
    ) async throws -> T {
        let client = try CollectorClient(baseURL: baseURL, trust: trust, identity: identity)
        do {
            let result = try await body(client)
            await client.shutdown()
            return result
        } catch {
            await client.shutdown()
            throw error
        }
    }

    /// Moves on to the next collector, if there is another; says where.
    private func failOver() -> String {
        guard baseURLs.count > 1 else { return "" }
        let next = current.withLock { index in
            index = (index + 1) % baseURLs.count
            return index
        }
        return "; next: \(baseURLs[next])"
    }

    public func get(_ path: String, headers: [(String, String)] = [], timeout: Duration = .seconds(30)) async
        -> CollectorAnswer<[UInt8]>
    {
        var request = HTTPClientRequest(url: baseURL + path)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        return await send(request, timeout: timeout)
    }

    public func post(_ path: String, body: [UInt8], contentType: String, headers: [(String, String)] = []) async
        -> CollectorAnswer<[UInt8]>
    {
        var request = HTTPClientRequest(url: baseURL + path)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.method = .POST
        request.headers.add(name: "Content-Type", value: contentType)
        request.body = .bytes(ByteBuffer(bytes: body))
        return await send(request)
    }

    /// Any method, answering the status with the body: what a generated OpenAPI client's transport needs.
    public func request(
        _ method: String, _ path: String, body: [UInt8]?, contentType: String?, headers: [(String, String)] = []
    ) async -> CollectorAnswer<(status: Int, body: [UInt8])> {
        var request = HTTPClientRequest(url: baseURL + path)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.method = HTTPMethod(rawValue: method)
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        return await exchange(request)
    }

    public func postJSON<Body: Encodable, Answer: Decodable & Sendable>(
        _ path: String, _ body: Body, answer: Answer.Type
    ) async -> CollectorAnswer<Answer> {
        guard let data = try? PostureReport.wireEncoder().encode(body) else {
            return .unavailable("cannot encode the request")
        }
        return Self.decode(await post(path, body: Array(data), contentType: "application/json"), as: answer)
    }

    public func getJSON<Answer: Decodable & Sendable>(_ path: String, answer: Answer.Type) async -> CollectorAnswer<
        Answer
    > {
        Self.decode(await get(path), as: answer)
    }

    static func decode<Answer: Decodable & Sendable>(_ answer: CollectorAnswer<[UInt8]>, as type: Answer.Type)
        -> CollectorAnswer<Answer>
    {
        switch answer {
        case .accepted(let bytes):
            do {
                return .accepted(try PostureReport.wireDecoder().decode(type, from: Data(bytes)))
            } catch {
                return .unavailable("the collector's answer is not a \(type): \(error)")
            }
        case .refused(let body, let status): return .refused(body, status: status)
        case .unavailable(let reason): return .unavailable(reason)
        case .busy(let reason, let retryAfter): return .busy(reason, retryAfter: retryAfter)
        }
    }

    private func send(_ request: HTTPClientRequest, timeout: Duration = .seconds(30)) async
        -> CollectorAnswer<[UInt8]>
    {
        switch await exchange(request, timeout: timeout) {
        case .accepted(let answer): .accepted(answer.body)
        case .refused(let body, let status): .refused(body, status: status)
        case .unavailable(let reason): .unavailable(reason)
        case .busy(let reason, let retryAfter): .busy(reason, retryAfter: retryAfter)
        }
    }

    private func exchange(_ request: HTTPClientRequest, timeout: Duration = .seconds(30)) async
        -> CollectorAnswer<(status: Int, body: [UInt8])>
    {
        do {
            let response = try await client.execute(request, timeout: .init(timeout))
            let body = Array(try await response.body.collect(upTo: 16 << 20).readableBytesView)
            switch response.status.code {
            case 200..<300: return .accepted((Int(response.status.code), body))
            case 304: return .accepted((304, []))
            case 429,
                503 where response.headers.first(name: "Retry-After") != nil:
                // Seconds only (RFC 9110 §10.2.3 also allows a date; the collector sends seconds), at most 5 min.
                let seconds = response.headers.first(name: "Retry-After").flatMap { Int($0) } ?? 5
                let message = (try? JSONDecoder().decode(ErrorBody.self, from: Data(body)))?.message
                return .busy(
                    "the collector is busy (\(response.status.code))" + (message.map { ": " + $0 } ?? ""),
                    retryAfter: .seconds(min(max(seconds, 1), 300)))
            case 400..<500:
                let error =
                    (try? JSONDecoder().decode(ErrorBody.self, from: Data(body)))
                    ?? ErrorBody(
                        AttestationRefusal(
                            .init(rawValue: "http_\(response.status.code)"),
                            String(decoding: body.prefix(200), as: UTF8.self)))
                return .refused(error, status: Int(response.status.code))
            default:
                let message = (try? JSONDecoder().decode(ErrorBody.self, from: Data(body)))?.message
                return .unavailable(
                    "the collector answered \(response.status.code)" + (message.map { ": " + $0 } ?? "")
                        + failOver())
            }
        } catch let error as HTTPClientError where error == .remoteConnectionClosed {
            // Over HTTP/2 a refused client certificate looks like this; a plain handshake says which it was.
            let url = request.url
            let alert = await Self.hostAndPort(url).asyncFlatMap { address in
                await HandshakeProbe.alert(host: address.host, port: address.port, tls: tls)
            }
            return .unavailable(
                (alert.map { "the collector ended the TLS session: \($0)" } ?? "\(error)") + failOver())
        } catch {
            return .unavailable("\(error)" + failOver())
        }
    }

    /// `https://host:port/…` → (host, port); an IPv6 literal keeps no brackets.
    static func hostAndPort(_ url: String) -> (host: String, port: Int)? {
        guard url.hasPrefix("https://") else { return nil }
        let authority = url.dropFirst(8).prefix { $0 != "/" }
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            let host = String(authority[authority.index(after: authority.startIndex)..<close])
            let rest = authority[authority.index(after: close)...]
            return (host, rest.hasPrefix(":") ? Int(rest.dropFirst()) ?? 443 : 443)
        }
        guard let colon = authority.lastIndex(of: ":") else { return (String(authority), 443) }
        return (String(authority[..<colon]), Int(authority[authority.index(after: colon)...]) ?? 443)
    }
}

extension Optional {
    fileprivate func asyncFlatMap<U>(_ transform: (Wrapped) async -> U?) async -> U? {
        guard let self else { return nil }
        return await transform(self)
    }
}
