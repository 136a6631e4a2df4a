import CNetfilter
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A named network namespace (`ip netns add`) for one test: its own, empty netfilter state. Code runs
/// inside it on a dedicated thread (setns affects only the calling thread), so the test process and
/// the other tests stay in the host's namespace.
public final class NetworkNamespace: @unchecked Sendable {
    public let name: String

    public init(label: String) throws {
        name = "posture-\(label)-\(getpid())-\(UUID().uuidString.prefix(6))"
        try Shell.run(["ip", "netns", "add", name])
    }

    deinit { _ = try? Shell.run(["ip", "netns", "delete", name]) }

    /// Runs a command inside the namespace.
    @discardableResult
    public func exec(_ arguments: [String], stdin: Data? = nil) throws -> Shell.Output {
        try Shell.run(["ip", "netns", "exec", name] + arguments, stdin: stdin)
    }

    /// Loads an nftables ruleset with `nft -f -`.
    public func loadNftables(_ ruleset: String) throws {
        try exec(["nft", "-f", "-"], stdin: Data(ruleset.utf8))
    }

    /// Runs `body` on a fresh thread that has joined this namespace, and returns its result.
    public func run<T: Sendable>(_ body: @escaping @Sendable () -> T) throws -> T {
        let fd = open("/run/netns/\(name)", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        let box = ResultBox<T>()
        let thread = Thread {
            let result = posture_join_network_namespace(fd)
            if result != 0 {
                box.set(.failure(POSIXError(POSIXErrorCode(rawValue: -result) ?? .EIO)))
            } else {
                box.set(.success(body()))
            }
        }
        thread.start()
        return try box.wait().get()
    }
}

private final class ResultBox<T>: @unchecked Sendable {
    private let condition = NSCondition()
    private var result: Result<T, any Error>?

    func set(_ value: Result<T, any Error>) {
        condition.lock()
        result = value
        condition.signal()
        condition.unlock()
    }

    func wait() -> Result<T, any Error> {
        condition.lock()
        defer { condition.unlock() }
        while result == nil { condition.wait() }
        return result!
    }
}
