import NIOSSL
import PostgresNIO

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Where the shared store is: a libpq-style URL, `postgresql://USER@HOST[:PORT]/DATABASE[?PARAMS]`, with
/// `sslmode` (`disable`, `prefer`, `require`, `verify-full`), `sslrootcert` (the server's CA, PEM) and
/// `host` (a unix-socket directory) among the parameters. The password never sits in the URL: it comes
/// from a file (`storage.passwordFile`) or a systemd credential. Without `sslmode`, TLS is `verify-full`
/// with the system's roots, or `prefer` to a loopback address or a unix socket.
public struct PostgresLocation: Sendable, Equatable {
    public enum TLSMode: String, Sendable, CaseIterable {
        case disable, prefer, require
        case verifyFull = "verify-full"
    }

    public var username: String
    public var host: String
    public var port: Int
    public var database: String
    /// The directory of the server's unix socket (`?host=/run/postgresql`), instead of TCP.
    public var socketDirectory: String?
    public var tls: TLSMode
    public var rootCertificate: String?

    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    public init(url text: String) throws {
        func invalid(_ why: String) -> Invalid {
            Invalid(
                description:
                    "storage.url '\(Self.redacted(text))' \(why); write postgresql://USER@HOST:PORT/DATABASE?sslmode=verify-full"
            )
        }
        guard let components = URLComponents(string: text), let scheme = components.scheme,
            scheme == "postgresql" || scheme == "postgres"
        else { throw invalid("is not a postgresql:// URL") }
        guard components.password == nil else {
            throw invalid(
                "holds a password: keep it out of the configuration, in storage.passwordFile (mode 0600) or the systemd credential posture-postgres-password"
            )
        }
        guard let user = components.user, !user.isEmpty else { throw invalid("names no user (postgresql://USER@…)") }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty else { throw invalid("names no database (…/DATABASE)") }
        var parameters: [String: String] = [:]
        for item in components.queryItems ?? [] {
            guard ["sslmode", "sslrootcert", "host"].contains(item.name), let value = item.value else {
                throw invalid("has parameter '\(item.name)', which is not supported (sslmode, sslrootcert, host)")
            }
            parameters[item.name] = value
        }
        username = user.removingPercentEncoding ?? user
        host = components.host ?? ""
        port = components.port ?? 5432
        self.database = database.removingPercentEncoding ?? database
        socketDirectory = parameters["host"]
        if let directory = socketDirectory, !directory.hasPrefix("/") {
            throw invalid("has host=\(directory), which is not a unix-socket directory (an absolute path)")
        }
        if host.isEmpty && socketDirectory == nil { throw invalid("names no host") }
        rootCertificate = parameters["sslrootcert"]
        if let mode = parameters["sslmode"] {
            guard let known = TLSMode(rawValue: mode) else {
                throw invalid(
                    "has sslmode=\(mode); use one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            tls = known
        } else {
            let local = socketDirectory != nil || host == "localhost" || host == "::1" || host.hasPrefix("127.")
            tls = local ? .prefer : .verifyFull
        }
    }

    /// The URL with any password masked, for messages.
    static func redacted(_ text: String) -> String {
        guard var components = URLComponents(string: text), components.password != nil else { return text }
        components.password = "REDACTED"
        return components.string ?? "postgresql://…"
    }

    /// TLS toward the server: the mode and, unless disabled, TLS 1.3 with the server's certificate verified
    /// against `sslrootcert` or the system's roots in `verify-full` (and in `require` with a root given).
    func tlsSettings() throws -> (mode: TLSMode, configuration: TLSConfiguration?) {
        guard tls != .disable else { return (.disable, nil) }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv13
        if let rootCertificate {
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(rootCertificate))
        }
        switch tls {
        case .disable, .verifyFull: break
        case .prefer: configuration.certificateVerification = .none
        case .require: if rootCertificate == nil { configuration.certificateVerification = .none }
        }
        return (tls, configuration)
    }

    /// The pool's configuration.
    public func clientConfiguration(password: String?) throws -> PostgresClient.Configuration {
        if let socketDirectory {
            return PostgresClient.Configuration(
                unixSocketPath: socketDirectory + "/.s.PGSQL.\(port)", username: username, password: password,
                database: database)
        }
        let (mode, configuration) = try tlsSettings()
        let tls: PostgresClient.Configuration.TLS =
            switch (mode, configuration) {
            case (.prefer, let configuration?): .prefer(configuration)
            case (.require, let configuration?), (.verifyFull, let configuration?): .require(configuration)
            default: .disable
            }
        return PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
    }

    /// One connection's configuration, for `PostgresStore.probe`.
    func connectionConfiguration(password: String?) throws -> PostgresConnection.Configuration {
        if let socketDirectory {
            return PostgresConnection.Configuration(
                unixSocketPath: socketDirectory + "/.s.PGSQL.\(port)", username: username, password: password,
                database: database)
        }
        let (mode, configuration) = try tlsSettings()
        let context = try configuration.map { try NIOSSLContext(configuration: $0) }
        let tls: PostgresConnection.Configuration.TLS =
            switch (mode, context) {
            case (.prefer, let context?): .prefer(context)
            case (.require, let context?), (.verifyFull, let context?): .require(context)
            default: .disable
            }
        return PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
    }
}
