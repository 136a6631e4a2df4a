import NIOCore
import NIOPosix
import NIOSSL

/// Why a collector closed a connection it had just accepted. Over HTTP/2, async-http-client reports only
/// `remoteConnectionClosed` when the server's TLS 1.3 alert (a client certificate refused after the
/// handshake: revoked, replaced, from another CA) arrives before the server's SETTINGS frame. On that
/// failure path only, one plain TLS connection with the same configuration reads the alert itself, so
/// that the agent can say "certificate unknown" rather than "collector unavailable".
enum HandshakeProbe {
    /// The TLS error the collector's first answer raises, or nil if it answered without one (then the
    /// connection closed for another reason: a restart, an idle timeout).
    static func alert(host: String, port: Int, tls: TLSConfiguration, timeout: TimeAmount = .seconds(2)) async
        -> String?
    {
        var tls = tls
        tls.applicationProtocols = ["http/1.1"]
        guard let context = try? NIOSSLContext(configuration: tls) else { return nil }
        let catcher = ErrorCatcher()
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // No SNI for an address literal, as async-http-client does; the chain is still verified.
                    let name = host.contains(":") || host.allSatisfy({ $0.isNumber || $0 == "." }) ? nil : host
                    try channel.pipeline.syncOperations.addHandler(
                        try NIOSSLClientHandler(context: context, serverHostname: name))
                    try channel.pipeline.syncOperations.addHandler(catcher)
                }
            }
        guard let channel = try? await bootstrap.connect(host: host, port: port).get() else { return nil }
        // TLS 1.3 refuses a client certificate after the client's Finished: the alert comes with the first read.
        let request = "GET /readyz HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n"
        channel.writeAndFlush(ByteBuffer(string: request), promise: nil)
        channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        try? await channel.closeFuture.get()
        return catcher.error
    }

    /// Keeps the first error the pipeline raises.
    private final class ErrorCatcher: ChannelInboundHandler, @unchecked Sendable {
        // @unchecked: written and read on the channel's event loop; read again only after the channel closed.
        typealias InboundIn = ByteBuffer
        private(set) var error: String?

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            if self.error == nil { self.error = "\(error)" }
            context.close(promise: nil)
        }
    }
}
