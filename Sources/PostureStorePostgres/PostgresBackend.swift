import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PostgresNIO
import PostureStore

/// The store's scripts on PostgreSQL. A script is synchronous (`SQLExecutor`), so it runs on a thread of
/// this backend's own pool, one leased connection per transaction, waiting on each statement's answer
/// there: never on a cooperative thread or an event loop. Writes run at READ COMMITTED with the scripts'
/// row locks (`FOR UPDATE`) and advisory locks (`StoreLock`); reads in one REPEATABLE READ snapshot. A
/// transaction the server aborts for a serialization failure or a deadlock is run again, up to 5 times.
public final class PostgresBackend: StoreBackend {
    let client: PostgresClient
    let threads: NIOThreadPool
    let logger: Logger
    /// This collector among those sharing the database: its own notifications are not news to it.
    let node = String(UInt64.random(in: 0...UInt64.max), radix: 36)

    public var dialect: SQLDialect { .postgresql }

    /// `threads` bounds the transactions in flight; the client's pool bounds the connections.
    init(client: PostgresClient, threads: Int, connectionWait: Duration, logger: Logger) {
        self.client = client
        self.connectionWait = connectionWait
        self.threads = NIOThreadPool(numberOfThreads: threads)
        self.threads.start()
        self.logger = logger
    }

    func shutDown() async throws { try await threads.shutdownGracefully() }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLExecutor) throws -> T) async throws -> T {
        try await transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", body)
    }

    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLExecutor) throws -> T) async throws -> T {
        try await transaction("BEGIN", body)
    }

    /// How long a transaction waits for a connection before the store is reported unreachable: the
    /// server down must be a quick 503, not a request that hangs until its client gives up.
    let connectionWait: Duration

    /// Runs `body` in one transaction on a leased connection, from a thread of the pool.
    func transaction<T: Sendable>(_ begin: String, _ body: @escaping @Sendable (any SQLExecutor) throws -> T)
        async throws -> T
    {
        var attempt = 1
        while true {
            do {
                return try await leased(begin, body)
            } catch let error as PSQLError where attempt < 5 && Self.isRetryable(error) {
                attempt += 1
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...(10 * attempt))))
            }
        }
    }

    private func leased<T: Sendable>(_ begin: String, _ body: @escaping @Sendable (any SQLExecutor) throws -> T)
        async throws -> T
    {
        let obtained = NIOLockedValueBox(false)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await self.client.withConnection { connection in
                    obtained.withLockedValue { $0 = true }
                    let executor = PostgresExecutor(connection: connection, logger: self.logger, node: self.node)
                    return try await self.threads.runIfActive {
                        try executor.execute(begin, [])
                        do {
                            let result = try body(executor)
                            try executor.execute("COMMIT", [])
                            return result
                        } catch {
                            _ = try? executor.execute("ROLLBACK", [])
                            throw error
                        }
                    }
                }
            }
            group.addTask {
                try await Task.sleep(for: self.connectionWait)
                if obtained.withLockedValue({ $0 }) { return nil }
                throw PostgresUnavailable(wait: self.connectionWait)
            }
            while let next = try await group.next() {
                if let result = next {
                    group.cancelAll()
                    return result
                }
            }
            throw PostgresUnavailable(wait: self.connectionWait)
        }
    }

    static func isRetryable(_ error: PSQLError) -> Bool {
        guard let state = error.serverInfo?[.sqlState] else { return false }
        return state == "40001" || state == "40P01"
    }
}

/// One connection inside its transaction, used from one pool thread.
struct PostgresExecutor: SQLExecutor, @unchecked Sendable {
    let connection: PostgresConnection
    let logger: Logger
    let node: String

    /// The channel every collector of the database listens on; payload `NODE device ID` or `NODE action`.
    static let channel = "posture_changes"

    /// Delivered to the listeners when the transaction commits, once per distinct payload.
    func notify(_ event: StoreEvent) throws {
        let payload =
            switch event {
            case .device(let id): "\(node) device \(id)"
            case .action: "\(node) action"
            }
        _ = try rows("SELECT pg_notify('\(Self.channel)', ?)", [payload])
    }

    var dialect: SQLDialect { .postgresql }

    func rows(_ sql: String, _ arguments: [any SQLBindable]) throws -> [SQLRow] {
        try run(sql, arguments).rows.map(Self.row)
    }

    @discardableResult func execute(_ sql: String, _ arguments: [any SQLBindable]) throws -> Int {
        try run(sql, arguments).metadata.rows ?? 0
    }

    private func run(_ sql: String, _ arguments: [any SQLBindable]) throws -> PostgresQueryResult {
        var binds = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
            switch argument.sqlValue {
            case .null: binds.appendNull()
            case .integer(let number): binds.append(number)
            case .real(let number): binds.append(number)
            case .text(let text): binds.append(text)
            case .blob(let bytes): binds.append(ByteBuffer(bytes: bytes))
            }
        }
        let query = PostgresQuery(unsafeSQL: Placeholders.numbered(sql), binds: binds)
        return try connection.query(query, logger: logger).wait()
    }

    static func row(_ row: PostgresRow) -> SQLRow {
        var columns: [String] = []
        var values: [SQLValue] = []
        columns.reserveCapacity(row.count)
        values.reserveCapacity(row.count)
        for cell in row {
            columns.append(cell.columnName)
            values.append(value(cell))
        }
        return SQLRow(columns: columns, values: values)
    }

    static func value(_ cell: PostgresCell) -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8: return (try? cell.decode(Int64.self)).map(SQLValue.integer) ?? .null
        case .float4, .float8: return (try? cell.decode(Double.self)).map(SQLValue.real) ?? .null
        case .numeric:
            return (try? cell.decode(String.self)).flatMap(Double.init).map(SQLValue.real) ?? .null
        case .bool: return (try? cell.decode(Bool.self)).map { .integer($0 ? 1 : 0) } ?? .null
        case .bytea: return cell.bytes.map { .blob(Array($0.readableBytesView)) } ?? .null
        default: return (try? cell.decode(String.self)).map(SQLValue.text) ?? .null
        }
    }
}

/// `?` placeholders (the scripts', SQLite's) as PostgreSQL's `$1`, `$2`, …, outside quoted text.
enum Placeholders {
    private static let cache = NIOLockedValueBox([String: String]())

    static func numbered(_ sql: String) -> String {
        if let known = cache.withLockedValue({ $0[sql] }) { return known }
        var out = ""
        out.reserveCapacity(sql.utf8.count + 16)
        var number = 0
        var quote: Character?
        for character in sql {
            if let open = quote {
                if character == open { quote = nil }
                out.append(character)
            } else if character == "'" || character == "\"" {
                quote = character
                out.append(character)
            } else if character == "?" {
                number += 1
                out += "$\(number)"
            } else {
                out.append(character)
            }
        }
        cache.withLockedValue { cache in
            if cache.count > 4096 { cache.removeAll() }
            cache[sql] = out
        }
        return out
    }
}

/// No connection to PostgreSQL within the wait: the server is down, unreachable, or refuses us.
public struct PostgresUnavailable: Error, CustomStringConvertible {
    var wait: Duration

    public var description: String {
        "no connection to PostgreSQL within \(wait): check that the server is up and reachable (storage.url) and "
            + "that the collector may log in"
    }
}
