import Logging
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The agent's local access socket: one JSON line in, one JSON line out, per connection. The kernel names
/// the asking process's user (SO_PEERCRED), so nobody can ask as someone else; a request is bounded in
/// size and time, and connections in number, so a local user cannot exhaust the agent.
struct AccessSocket {
    let path: String
    let logger: Logger
    static let maxRequestBytes = 64 << 10
    static let maxConnections = 32
    static let readTimeout: Duration = .seconds(10)

    /// The asking process, as the kernel saw it connect.
    struct Peer: Sendable {
        let uid: uid_t
        let gid: gid_t
        let pid: pid_t
    }

    /// Serves until cancelled; `answer` gets the peer and the request line.
    func serve(_ answer: @escaping @Sendable (Peer, [UInt8]) async -> [UInt8]) async throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        // The unit's UMask=0077 would leave it closed to the users the socket is for.
        chmod(directory, 0o755)
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true) { channel in
                Self.peer(of: channel).flatMapThrowing { peer in
                    (peer, try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel))
                }
            }
        // Any local user may connect: who they are comes from the kernel, what they get from the collector.
        chmod(path, 0o666)
        logger.notice("access requests on \(path)")
        let open = ConnectionCount()
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { connections in
                for try await (peer, connection) in connections {
                    guard open.increment() <= Self.maxConnections else {
                        open.decrement()
                        try? await connection.channel.close()
                        continue
                    }
                    group.addTask {
                        defer { open.decrement() }
                        await Self.exchange(connection, peer: peer, answer: answer)
                    }
                }
            }
        }
    }

    private static func exchange(
        _ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, peer: Peer?,
        answer: @escaping @Sendable (Peer, [UInt8]) async -> [UInt8]
    ) async {
        try? await connection.executeThenClose { inbound, outbound in
            guard let peer else { return }
            let line = try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
                group.addTask { try await Self.readLine(inbound) }
                group.addTask {
                    try await Task.sleep(for: Self.readTimeout)
                    return nil
                }
                defer { group.cancelAll() }
                return try await group.next() ?? nil
            }
            guard let line else { return }
            try await outbound.write(ByteBuffer(bytes: await answer(peer, line) + [0x0A]))
        }
    }

    /// The first line, or the bytes up to the limit; nil when the peer sent nothing.
    private static func readLine(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>) async throws -> [UInt8]? {
        var bytes: [UInt8] = []
        for try await buffer in inbound {
            bytes += buffer.readableBytesView
            if let end = bytes.firstIndex(of: 0x0A) { return Array(bytes[..<end]) }
            if bytes.count > maxRequestBytes { return Array(bytes.prefix(maxRequestBytes + 1)) }
        }
        return bytes.isEmpty ? nil : bytes
    }

    /// SO_PEERCRED of a connected unix socket; a channel that cannot say is served nothing.
    private static func peer(of channel: any Channel) -> EventLoopFuture<Peer?> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeSucceededFuture(nil)
        }
        let credentials: EventLoopFuture<Credentials> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        return credentials.map { Optional(Peer(uid: $0.uid, gid: $0.gid, pid: $0.pid)) }.recover { _ in nil }
    }

    /// `struct ucred` (pid, uid, gid), which Glibc's module map hides behind _GNU_SOURCE.
    private struct Credentials: Sendable {
        var pid: pid_t = 0
        var uid: uid_t = 0
        var gid: gid_t = 0
    }
}

/// Open connections, counted across tasks.
private final class ConnectionCount: Sendable {
    private let value = Mutex(0)
    func increment() -> Int {
        value.withLock {
            $0 += 1
            return $0
        }
    }
    func decrement() { value.withLock { $0 -= 1 } }
}
