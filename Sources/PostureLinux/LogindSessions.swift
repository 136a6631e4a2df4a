import CSystemd

#if canImport(Glibc)
    import Glibc
#endif

/// One session's properties as `org.freedesktop.login1.Session` gives them (`GetAll`), with the listing's
/// id, uid and user. Times are microseconds since the epoch, 0 where logind has none.
public struct LogindSessionProperties: Sendable, Equatable {
    public var id: String
    public var uid: UInt32
    public var user: String
    public var type = ""
    public var sessionClass = ""
    public var remote = false
    public var remoteHost = ""
    public var service = ""
    public var desktop = ""
    public var active = false
    public var idleHint = false
    public var idleSinceMicroseconds: UInt64 = 0
    public var lockedHint = false
    public var timestampMicroseconds: UInt64 = 0

    public init(id: String, uid: UInt32, user: String) {
        self.id = id
        self.uid = uid
        self.user = user
    }
}

extension LogindClient {
    /// Every session logind lists, with its properties, on a connection of its own that is closed before
    /// returning: for the sessions probe, which runs synchronously. A session that ends between the listing
    /// and its properties is left out. At most `limit` sessions are read; the count of all is returned too.
    public static func readSessions(limit: Int, timeoutMicroseconds: UInt64 = 2_000_000) throws -> (
        sessions: [LogindSessionProperties], total: Int
    ) {
        var bus: OpaquePointer?
        try check(sd_bus_open_system(&bus), "sd_bus_open_system")
        defer { sd_bus_flush_close_unref(bus) }
        guard let bus else { throw SystemError(code: .unsupported, call: "sd_bus_open_system") }
        let listed = try call(
            bus, path: "/org/freedesktop/login1", interface: "org.freedesktop.login1.Manager", method: "ListSessions",
            argument: nil, timeout: timeoutMicroseconds, parse: parseSessionList)
        var sessions: [LogindSessionProperties] = []
        for listing in listed.prefix(limit) {
            var session = LogindSessionProperties(id: listing.id, uid: listing.uid, user: listing.user)
            do {
                try call(
                    bus, path: listing.path, interface: "org.freedesktop.DBus.Properties", method: "GetAll",
                    argument: "org.freedesktop.login1.Session", timeout: timeoutMicroseconds
                ) { reply in try readProperties(reply, into: &session) }
            } catch let error as SystemError
                where error.busError == "org.freedesktop.DBus.Error.UnknownObject"
                || error.busError == "org.freedesktop.DBus.Error.UnknownMethod" || error.busError == noSuchSession
            {
                continue  // ended since the listing
            }
            sessions.append(session)
        }
        return (sessions, listed.count)
    }

    /// Reads an `a{sv}` of session properties; types other than the expected ones are skipped.
    private static func readProperties(_ reply: OpaquePointer, into session: inout LogindSessionProperties) throws {
        let call = "org.freedesktop.login1.Session properties"
        try check(sd_bus_message_enter_container(reply, CChar(UInt8(ascii: "a")), "{sv}"), call)
        while try enter(reply, "e", "sv", call) {
            let name = try readString(reply, "s")
            var type: CChar = 0
            var contents: UnsafePointer<CChar>?
            try check(sd_bus_message_peek_type(reply, &type, &contents), call)
            let signature = contents.map { String(cString: $0) } ?? ""
            if ["s", "b", "t"].contains(signature) {
                try check(sd_bus_message_enter_container(reply, CChar(UInt8(ascii: "v")), signature), call)
                switch signature {
                case "s":
                    let value = try readString(reply, "s")
                    switch name {
                    case "Type": session.type = value
                    case "Class": session.sessionClass = value
                    case "RemoteHost": session.remoteHost = value
                    case "Service": session.service = value
                    case "Desktop": session.desktop = value
                    default: break
                    }
                case "b":
                    var value: Int32 = 0
                    try check(sd_bus_message_read_basic(reply, CChar(UInt8(ascii: "b")), &value), call)
                    switch name {
                    case "Remote": session.remote = value != 0
                    case "Active": session.active = value != 0
                    case "IdleHint": session.idleHint = value != 0
                    case "LockedHint": session.lockedHint = value != 0
                    default: break
                    }
                default:
                    var value: UInt64 = 0
                    try check(sd_bus_message_read_basic(reply, CChar(UInt8(ascii: "t")), &value), call)
                    switch name {
                    case "IdleSinceHint": session.idleSinceMicroseconds = value
                    case "Timestamp": session.timestampMicroseconds = value
                    default: break
                    }
                }
                try check(sd_bus_message_exit_container(reply), call)
            } else {
                try check(sd_bus_message_skip(reply, "v"), call)
            }
            try check(sd_bus_message_exit_container(reply), call)
        }
        try check(sd_bus_message_exit_container(reply), call)
    }

    /// Enters a container; false at the end of the enclosing one.
    static func enter(_ message: OpaquePointer, _ kind: Character, _ contents: String, _ call: String) throws
        -> Bool
    {
        let entered = sd_bus_message_enter_container(message, CChar(kind.asciiValue ?? 0), contents)
        try check(entered, call)
        return entered > 0
    }

    /// One method call to logind on `bus` with at most one string argument; the reply is parsed before it
    /// is freed. A failure names the D-Bus error (`busError`) and `subject`, or else the object path.
    @discardableResult
    static func call<T>(
        _ bus: OpaquePointer, path: String, interface: String, method: String, argument: String?,
        subject: String? = nil, timeout: UInt64, parse: (OpaquePointer) throws -> T
    ) throws -> T {
        var message: OpaquePointer?
        try check(
            sd_bus_message_new_method_call(bus, &message, "org.freedesktop.login1", path, interface, method), method)
        defer { sd_bus_message_unref(message) }
        if let argument {
            try argument.withCString { text in
                try check(sd_bus_message_append_basic(message, CChar(UInt8(ascii: "s")), text), method)
            }
        }
        var error = sd_bus_error()
        defer { sd_bus_error_free(&error) }
        var reply: OpaquePointer?
        let result = sd_bus_call(bus, message, timeout, &error, &reply)
        defer { sd_bus_message_unref(reply) }
        if result < 0 {
            let name = error.name.map { String(cString: $0) }
            let text = error.message.map { String(cString: $0) } ?? ""
            var failure = SystemError.errno(
                -result, call: "\(interface).\(method)", subject: subject ?? path,
                detail: "\(name ?? "errno \(-result)"): \(text)")
            failure.busError = name
            throw failure
        }
        guard let reply else { throw SystemError(code: .malformed, call: method, detail: "no reply") }
        return try parse(reply)
    }
}
