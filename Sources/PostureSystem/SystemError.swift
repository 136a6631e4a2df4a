#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The one error type of `PostureSystem` and `PostureLinux`: which call failed, on what, and why (errno where there is one).
public struct SystemError: Error, Sendable, CustomStringConvertible, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let notFound = Code("not-found")
        public static let permissionDenied = Code("permission-denied")
        public static let ioFailure = Code("io-failure")
        public static let malformed = Code("malformed")
        public static let tooLarge = Code("too-large")
        public static let unsupported = Code("unsupported")
    }

    public var code: Code
    /// The system or library call, e.g. `open`, `sd_journal_open_files`, `nft_run_cmd_from_buffer`.
    public var call: String
    /// The path or object it acted on, when there is one.
    public var subject: String?
    public var errno: Int32?
    /// Extra words for a human: the cause in the library's own terms, or the fix.
    public var detail: String?
    /// The D-Bus error name a service answered with (`org.freedesktop.login1.NoSuchSession`): what callers
    /// match on, never the words.
    public var busError: String?

    public init(
        code: Code, call: String, subject: String? = nil, errno: Int32? = nil, detail: String? = nil,
        busError: String? = nil
    ) {
        self.code = code
        self.call = call
        self.subject = subject
        self.errno = errno
        self.detail = detail
        self.busError = busError
    }

    /// Builds the error for a negative errno as libc or libsystemd return it.
    public static func errno(_ value: Int32, call: String, subject: String? = nil, detail: String? = nil) -> SystemError
    {
        let code: Code
        switch value {
        case ENOENT, ENOTDIR: code = .notFound
        case EACCES, EPERM: code = .permissionDenied
        case EINVAL, EBADMSG: code = .malformed
        case EOPNOTSUPP, ENOSYS, EAFNOSUPPORT, EPROTONOSUPPORT: code = .unsupported
        default: code = .ioFailure
        }
        return SystemError(code: code, call: call, subject: subject, errno: value, detail: detail)
    }

    public var description: String {
        var text = call
        if let subject { text += " \(subject)" }
        if let errno { text += ": \(String(cString: strerror(errno)))" }
        if let detail { text += errno == nil ? ": \(detail)" : " (\(detail))" }
        if code == .permissionDenied && detail == nil { text += "; run as root or grant the capability it needs" }
        return text
    }
}

/// Retries a libc call interrupted by a signal; returns its result or throws with errno.
@inline(__always)
public func retryingEINTR(_ call: String, subject: String?, _ body: () -> Int) throws(SystemError) -> Int {
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = Glibc.errno
        if code == EINTR { continue }
        throw SystemError.errno(code, call: call, subject: subject)
    }
}
