import Hummingbird
import NIOCore

/// Hummingbird's request context plus the connection, whose TLS peer certificate names the device.
public struct CollectorRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
