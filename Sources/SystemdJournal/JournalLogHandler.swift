import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// swift-log to the systemd journal, natively: under systemd (`$JOURNAL_STREAM` is standard error) each
/// record is one structured entry with `PRIORITY` from its level (so `journalctl -p warning` shows every
/// refusal), a stable `MESSAGE_ID` when it is a refusal (`posture.code`) or a catalogued event
/// (`posture.event`), explained by `journalctl -x` from `posture.catalog`, and every `posture.*` metadata
/// key as a field (`posture.device` → `POSTURE_DEVICE`). Elsewhere (a terminal, a test), the plain stream.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let identifier: String
    let label: String

    public init(identifier: String, label: String) {
        self.identifier = identifier
        self.label = label
    }

    /// The process's handler: the journal when standard error is the journal, else the standard stream.
    public static func bootstrap(identifier: String, level: Logger.Level) {
        let native = JournalWriter.standardErrorIsJournal
        LoggingSystem.bootstrap { label in
            if native {
                var handler = JournalLogHandler(identifier: identifier, label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// syslog priorities (sd-daemon(3)).
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// `posture.device` → `POSTURE_DEVICE`: journal field names are upper-case letters, digits and `_`.
    static func fieldName(_ key: String) -> String {
        String(key.uppercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
    }

    /// The entry's fields, without sending it (what a test checks).
    public func fields(
        level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, file: String,
        function: String, line: UInt
    ) -> [(name: String, value: String)] {
        let all = metadata.merging(explicit ?? [:]) { $1 }
        var fields: [(name: String, value: String)] = [
            ("MESSAGE", "\(message)"), ("PRIORITY", "\(Self.priority(level))"), ("SYSLOG_IDENTIFIER", identifier),
            ("CODE_FILE", file), ("CODE_LINE", "\(line)"), ("CODE_FUNC", function), ("POSTURE_LOGGER", label),
        ]
        if let id = JournalCatalog.messageID(
            code: all["posture.code"].map { "\($0)" }, event: all["posture.event"].map { "\($0)" })
        {
            fields.append(("MESSAGE_ID", id))
        }
        for (key, value) in all.sorted(by: { $0.key < $1.key }) {
            fields.append((Self.fieldName(key), "\(value)"))
        }
        return fields
    }

    public func log(event: LogEvent) {
        let entry = fields(
            level: event.level, message: event.message, metadata: event.metadata, file: event.file,
            function: event.function, line: event.line)
        if !JournalWriter.send(entry) {
            // journald went away: the line still reaches standard error, which systemd also collects.
            var line = "\(event.level): \(event.message)"
            for (key, value) in (event.metadata ?? [:]).sorted(by: { $0.key < $1.key }) { line += " \(key)=\(value)" }
            let bytes = Array((line + "\n").utf8)
            _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        }
    }
}
