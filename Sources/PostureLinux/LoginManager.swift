import CSystemd
import Dispatch

#if canImport(Glibc)
    import Glibc
#endif

/// A login session as systemd-logind lists it.
public struct LoginSession: Sendable, Equatable, Hashable {
    public var id: String
    public var uid: UInt32
    public var user: String
    public var seat: String
    public var path: String

    public init(id: String, uid: UInt32, user: String, seat: String, path: String) {
        self.id = id
        self.uid = uid
        self.user = user
        self.seat = seat
        self.path = path
    }
}

/// What enforcement needs from logind. The real one talks D-Bus; tests may point it at another bus.
public protocol LoginManager: Sendable {
    func sessions() async throws -> [LoginSession]
    func terminate(session: String) async throws
    func lock(session: String) async throws
}

/// systemd-logind over sd-bus (`org.freedesktop.login1.Manager` on the system bus, or on
/// `DBUS_SYSTEM_BUS_ADDRESS`). One private connection, used from one serial queue: sd-bus objects are
/// not thread-safe and a blocking call must not hold one of the two cooperative threads.
public final class LogindClient: LoginManager, @unchecked Sendable {
    // @unchecked: `bus` is touched only on `queue`.
    private let queue = DispatchQueue(label: "posture.logind")
    private var bus: OpaquePointer?
    /// How long one call may take before it fails (logind answers in milliseconds).
    private let timeoutMicroseconds: UInt64 = 5_000_000

    public init() {}

    deinit {
        if let bus { sd_bus_flush_close_unref(bus) }
    }

    public func sessions() async throws -> [LoginSession] {
        try await call("ListSessions", argument: nil, parse: Self.parseSessionList)
    }

    /// `ListSessions`' reply: `a(susso)`, id, uid, user, seat, object path.
    static func parseSessionList(_ reply: OpaquePointer) throws -> [LoginSession] {
        var sessions: [LoginSession] = []
        try check(sd_bus_message_enter_container(reply, CChar(UInt8(ascii: "a")), "(susso)"), "ListSessions")
        while try enter(reply, "r", "susso", "ListSessions") {
            let id = try readString(reply, "s")
            var uid: UInt32 = 0
            try check(sd_bus_message_read_basic(reply, CChar(UInt8(ascii: "u")), &uid), "ListSessions")
            let user = try readString(reply, "s")
            let seat = try readString(reply, "s")
            let path = try readString(reply, "o")
            try check(sd_bus_message_exit_container(reply), "ListSessions")
            sessions.append(LoginSession(id: id, uid: uid, user: user, seat: seat, path: path))
        }
        try check(sd_bus_message_exit_container(reply), "ListSessions")
        return sessions
    }

    /// logind's answer for a session that no longer exists.
    public static let noSuchSession = "org.freedesktop.login1.NoSuchSession"

    public func terminate(session: String) async throws {
        _ = try await call("TerminateSession", argument: session) { _ in () }
    }

    public func lock(session: String) async throws {
        _ = try await call("LockSession", argument: session) { _ in () }
    }

    /// Calls a Manager method with at most one string argument and parses the reply on the queue.
    private func call<T: Sendable>(
        _ method: String, argument: String?, parse: @escaping @Sendable (OpaquePointer) throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try self.callOnQueue(method, argument: argument, parse: parse) })
            }
        }
    }

    private func callOnQueue<T>(_ method: String, argument: String?, parse: (OpaquePointer) throws -> T) throws -> T {
        if bus == nil {
            var opened: OpaquePointer?
            try Self.check(sd_bus_open_system(&opened), "sd_bus_open_system")
            bus = opened
        }
        guard let bus else { throw SystemError(code: .unsupported, call: "sd_bus_open_system") }
        do {
            return try Self.call(
                bus, path: "/org/freedesktop/login1", interface: "org.freedesktop.login1.Manager", method: method,
                argument: argument, subject: argument, timeout: timeoutMicroseconds, parse: parse)
        } catch let error as SystemError {
            if let code = error.errno, [ECONNRESET, ENOTCONN, ECONNREFUSED, ENOENT].contains(code) {
                // The bus went away: reconnect on the next call.
                sd_bus_flush_close_unref(bus)
                self.bus = nil
            }
            throw error
        }
    }

    static func readString(_ message: OpaquePointer, _ type: Character) throws -> String {
        var pointer: UnsafePointer<CChar>?
        try check(sd_bus_message_read_basic(message, CChar(type.asciiValue ?? 0), &pointer), "read")
        return pointer.map { String(cString: $0) } ?? ""
    }

    static func check(_ result: Int32, _ call: String) throws {
        if result < 0 { throw SystemError.errno(-result, call: call) }
    }
}
