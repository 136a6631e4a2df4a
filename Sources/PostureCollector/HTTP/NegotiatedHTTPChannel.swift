import HummingbirdCore
import HummingbirdHTTP2
import Logging
import NIOCore
import NIOHTTP2

/// HTTP/2 or HTTP/1.1, as ALPN negotiated, behind a TLS handler already in the pipeline (`TLSChannel`,
/// which keeps the devices listener's handshake verification and deadline). On HTTP/2 an agent's
/// attestations and its verdict long-poll share one connection: a fleet of N devices holds N
/// connections, not 2N. Agents that offer only HTTP/1.1 (or no ALPN) keep working.
struct NegotiatedHTTPChannel: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<NIONegotiatedHTTPVersion<HTTP1Channel.Value, HTTP2Channel.Value>>
        let channel: any Channel
    }

    /// What the TLS configuration offers, most preferred first.
    static let protocols = ["h2", "http/1.1"]

    let http1: HTTP1Channel
    let http2: HTTP2Channel

    init(responder: @escaping HTTPChannelHandler.Responder, idleTimeout: Duration) {
        http1 = HTTP1Channel(responder: responder, configuration: .init(idleTimeout: .init(idleTimeout)))
        // A connection with no open stream for the idle timeout is closed; an agent's long-poll keeps one open.
        http2 = HTTP2Channel(responder: responder, configuration: .init(idleTimeout: idleTimeout))
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.configureHTTP2AsyncSecureUpgrade { connection in
            http1.setup(channel: connection, logger: logger)
        } http2ConnectionInitializer: { connection in
            http2.setup(channel: connection, logger: logger)
        }.map { Value(negotiated: $0, channel: channel) }
    }

    func handle(value: Value, logger: Logger) async {
        switch try? await value.negotiated.get() {
        case .http1_1(let connection): await http1.handle(value: connection, logger: logger)
        case .http2(let connection): await http2.handle(value: connection, logger: logger)
        case nil: logger.debug("no HTTP version was negotiated; the connection closes")
        }
    }
}
