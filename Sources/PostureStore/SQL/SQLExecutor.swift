/// Runs statements inside one transaction of one backend. Statements are written once, in SQL that
/// SQLite and PostgreSQL both read, with `?` placeholders; where the two differ, `dialect` says how.
/// Synchronous on purpose: GRDB's transactions are synchronous closures, and every rule of the store is
/// one script shared by both backends (PostgreSQL runs it on a thread of its own, see
/// `PostureStorePostgres`).
public protocol SQLExecutor {
    var dialect: SQLDialect { get }
    func rows(_ sql: String, _ arguments: [any SQLBindable]) throws -> [SQLRow]
    /// The number of rows the statement changed.
    @discardableResult func execute(_ sql: String, _ arguments: [any SQLBindable]) throws -> Int
    /// Tells other collectors of the store, when this transaction commits (`StoreEvent`).
    func notify(_ event: StoreEvent) throws
}

extension SQLExecutor {
    /// One collector per SQLite file: nobody else to tell.
    public func notify(_ event: StoreEvent) throws {}

    public func row(_ sql: String, _ arguments: [any SQLBindable] = []) throws -> SQLRow? {
        try rows(sql, arguments).first
    }

    public func rows(_ sql: String) throws -> [SQLRow] { try rows(sql, []) }

    /// The first column of the first row, or nil.
    public func value(_ sql: String, _ arguments: [any SQLBindable] = []) throws -> SQLValue? {
        try rows(sql, arguments).first?.values.first
    }

    /// An INSERT … RETURNING id: the new row's key.
    public func insert(_ sql: String, _ arguments: [any SQLBindable]) throws -> Int64 {
        guard let row = try row(sql + " RETURNING id", arguments) else {
            throw StoreDecodingError(column: "id", expected: "the inserted row's key", found: .null)
        }
        return try row.int64("id")
    }
}

/// Where the two backends' SQL differs.
public enum SQLDialect: String, Sendable {
    case sqlite
    case postgresql

    /// Appended to a SELECT that reads a row the transaction then decides on. SQLite serializes writers,
    /// so a read in a write transaction is already stable; PostgreSQL locks the row.
    public var forUpdate: String { self == .postgresql ? " FOR UPDATE" : "" }

    /// Serializes writers of one kind (the audit chain's head, credential names) across connections and
    /// collectors until the transaction ends. SQLite has one writer at a time already.
    public func serialize(_ lock: StoreLock) -> String? {
        self == .postgresql ? "SELECT pg_advisory_xact_lock(\(lock.rawValue))" : nil
    }
}

/// The transaction-scoped locks of the store: one key each, stable across versions.
public enum StoreLock: Int64, Sendable {
    case auditChain = 7_310_001
    case credentialNames = 7_310_002
    case enrollment = 7_310_003
}

/// A database the store runs its scripts on: a read (a consistent snapshot) or a write transaction,
/// retried by the backend where the database asks for it (a serialization failure, a deadlock).
public protocol StoreBackend: Sendable {
    var dialect: SQLDialect { get }
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLExecutor) throws -> T) async throws -> T
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLExecutor) throws -> T) async throws -> T
}

extension SQLExecutor {
    func serialize(_ lock: StoreLock) throws {
        if let sql = dialect.serialize(lock) { _ = try rows(sql) }
    }
}
