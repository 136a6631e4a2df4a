#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A value as both backends store it: times are seconds since the epoch (`real`), flags are 0 or 1.
public enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// What a statement's argument can be.
public protocol SQLBindable: Sendable {
    var sqlValue: SQLValue { get }
}

extension SQLValue: SQLBindable { public var sqlValue: SQLValue { self } }
extension String: SQLBindable { public var sqlValue: SQLValue { .text(self) } }
extension Int: SQLBindable { public var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Int64: SQLBindable { public var sqlValue: SQLValue { .integer(self) } }
extension UInt64: SQLBindable { public var sqlValue: SQLValue { .integer(Int64(clamping: self)) } }
extension Double: SQLBindable { public var sqlValue: SQLValue { .real(self) } }
extension Bool: SQLBindable { public var sqlValue: SQLValue { .integer(self ? 1 : 0) } }
extension Data: SQLBindable { public var sqlValue: SQLValue { .blob(Array(self)) } }
extension Date: SQLBindable { public var sqlValue: SQLValue { .real(timeIntervalSince1970) } }
extension Optional: SQLBindable where Wrapped: SQLBindable {
    public var sqlValue: SQLValue { self?.sqlValue ?? .null }
}

/// A column that held what its reader did not expect: the store's schema and its code disagree.
public struct StoreDecodingError: Error, CustomStringConvertible {
    public var column: String
    public var expected: String
    public var found: SQLValue

    public var description: String {
        "the store's column '\(column)' holds \(found), not \(expected): the database was changed by something else "
            + "than this collector, or by another version (run `posture-collector migrate` with this version)"
    }
}

/// One result row, the same from either backend: column names and values in the statement's order.
public struct SQLRow: Sendable {
    public let columns: [String]
    public let values: [SQLValue]

    public init(columns: [String], values: [SQLValue]) {
        self.columns = columns
        self.values = values
    }

    public subscript(_ column: String) -> SQLValue {
        guard let index = columns.firstIndex(of: column) else { return .null }
        return values[index]
    }

    public func text(_ column: String) throws -> String {
        guard let value = try optionalText(column) else { throw mismatch(column, "text") }
        return value
    }

    public func optionalText(_ column: String) throws -> String? {
        switch self[column] {
        case .null: return nil
        case .text(let text): return text
        case .blob(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .integer, .real: throw mismatch(column, "text")
        }
    }

    public func int64(_ column: String) throws -> Int64 {
        guard let value = try optionalInt64(column) else { throw mismatch(column, "an integer") }
        return value
    }

    public func optionalInt64(_ column: String) throws -> Int64? {
        switch self[column] {
        case .null: return nil
        case .integer(let number): return number
        case .real(let number) where number == number.rounded() && abs(number) < 9e18: return Int64(number)
        default: throw mismatch(column, "an integer")
        }
    }

    public func int(_ column: String) throws -> Int { Int(try int64(column)) }
    public func bool(_ column: String) throws -> Bool { try int64(column) != 0 }

    public func double(_ column: String) throws -> Double {
        guard let value = try optionalDouble(column) else { throw mismatch(column, "a number") }
        return value
    }

    public func optionalDouble(_ column: String) throws -> Double? {
        switch self[column] {
        case .null: return nil
        case .real(let number): return number
        case .integer(let number): return Double(number)
        default: throw mismatch(column, "a number")
        }
    }

    public func optionalBlob(_ column: String) throws -> Data? {
        switch self[column] {
        case .null: return nil
        case .blob(let bytes): return Data(bytes)
        case .text, .integer, .real: throw mismatch(column, "bytes")
        }
    }

    public func date(_ column: String) throws -> Date { Date(timeIntervalSince1970: try double(column)) }
    public func optionalDate(_ column: String) throws -> Date? {
        try optionalDouble(column).map(Date.init(timeIntervalSince1970:))
    }

    private func mismatch(_ column: String, _ expected: String) -> StoreDecodingError {
        StoreDecodingError(column: column, expected: expected, found: self[column])
    }
}
