import PostureModel
import PostureStorePostgres
import Yams

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The collector's configuration. Every key is documented in `etc/posture/collector.yaml`; a missing file
/// means all defaults; a malformed file or an unknown key is fatal with the file and the key.
public struct CollectorConfiguration: Sendable, Codable, Equatable {
    public var trustDomain: String = "posture.local"
    /// The device API's URL as agents reach it. Default: the enrollment request's host, listen.devices' port.
    public var devicesURL: String?
    /// `devicesURL` given as a list: every collector of a shared store, in the order agents try them.
    public var devicesURLs: [String] = []
    public var stateDirectory: String = "/var/lib/posture-collector"
    public var listen = Listen()
    public var tls = TLS()
    public var ca = CA()
    public var certificates = Certificates()
    public var attestations = Attestations()
    public var storage = Storage()
    public var policy = PolicySettings()
    public var verdicts = Verdicts()
    public var limits = Limits()
    public var ssf = SSF()
    public var tpm = TPM()

    /// TPM-rooted device identity: whose endorsement keys to believe.
    public struct TPM: Sendable, Codable, Equatable {
        public init() {}

        /// PEM files of TPM manufacturers' CA certificates (roots, and intermediates to chain through). A
        /// device proves its key is in a TPM only with an EK certificate that chains to one; none: no
        /// device enrolls as `keyProtection: tpm`.
        public var endorsementRoots: [String] = []
    }

    public struct PolicySettings: Sendable, Codable, Equatable {
        public init() {}

        /// The compliance policy file; reloaded on SIGHUP and when it changes. Unset: `/etc/posture/policy.yaml`
        /// if it exists, else a built-in policy with no rules (only report freshness counts).
        public var path: String?
    }

    public struct Verdicts: Sendable, Codable, Equatable {
        public init() {}

        /// The `iss` of verdict JWTs and Security Event Tokens, and the base of the SSF endpoints.
        /// Default: https://<first tls.serverNames>:<listen.api port>.
        public var issuer: String?
    }

    public struct Listen: Sendable, Codable, Equatable {
        public init() {}

        /// TLS with server authentication only: enrollment and the CA bundle.
        public var enrollment: String = "127.0.0.1:8443"
        /// Mutual TLS: attestations, nonces, renewal. No client certificate, no handshake.
        public var devices: String = "127.0.0.1:8444"
        /// TLS with API tokens: verdicts for policy engines, JWKS, Shared Signals.
        public var api: String = "127.0.0.1:8445"
    }

    public struct TLS: Sendable, Codable, Equatable {
        public init() {}

        /// Names in the server certificate the collector issues itself (when `certificate` is not set).
        public var serverNames: [String] = ["localhost", "127.0.0.1", "::1"]
        /// How long the server certificate the collector issues itself is valid; it is renewed in place at
        /// two thirds of that, without a restart (new handshakes get the new one).
        public var serverCertificateLifetime = DurationText(.seconds(30 * 86400), text: "30d")
        public var certificate: String?
        public var key: String?
    }

    public struct CA: Sendable, Codable, Equatable {
        public init() {}

        /// An existing PKI's CA certificate and key (PEM). Unset: created in the state directory.
        public var certificate: String?
        public var key: String?
    }

    public struct Certificates: Sendable, Codable, Equatable {
        public init() {}

        public var deviceLifetime = DurationText(.seconds(86400), text: "24h")
    }

    public struct Attestations: Sendable, Codable, Equatable {
        public init() {}

        public var maxBodyBytes: Int = 1 << 20
        public var skew = DurationText(.seconds(300), text: "5m")
        public var nonceLifetime = DurationText(.seconds(900), text: "15m")
    }

    public struct Storage: Sendable, Codable, Equatable {
        public init() {}

        /// `sqlite` (the embedded default, one collector) or `postgresql` (several collectors, one fleet).
        public var driver: String = "sqlite"
        /// Default: `<stateDirectory>/collector.sqlite`.
        public var sqlitePath: String?
        /// PostgreSQL: `postgresql://USER@HOST:PORT/DATABASE?sslmode=verify-full&sslrootcert=FILE`, without
        /// a password (`PostgresLocation`).
        public var url: String?
        /// PostgreSQL: a file holding the password (mode 0600). Default: the systemd credential
        /// `posture-postgres-password` (`LoadCredential=`), if any; else no password (peer or certificate
        /// authentication).
        public var passwordFile: String?
        /// PostgreSQL: connections (and transactions in flight) per collector.
        public var connections = 16
        /// Attestations older than this are deleted (each device's newest is kept), but never within the
        /// policy's journal-signal window, which the verdicts read back.
        public var keepAttestations = DurationText(.seconds(30 * 86400), text: "30d")
        /// Certificates are deleted this long after they expired (each device's newest is kept).
        public var keepExpiredCertificates = DurationText(.seconds(30 * 86400), text: "30d")
        /// Security events (refusals) are deleted this long after they were recorded; enforcement
        /// reports, which the audit trail chains, are kept.
        public var keepSecurityEvents = DurationText(.seconds(90 * 86400), text: "90d")
    }

    public init() {}

    public var sqlitePath: String { storage.sqlitePath ?? stateDirectory + "/collector.sqlite" }
    /// The store as a message names it: the SQLite file, or the PostgreSQL URL (which holds no password).
    public var storeLocation: String {
        storage.driver == "postgresql" ? "PostgreSQL \(storage.url ?? "") (storage.url)" : sqlitePath
    }

    /// The policy file in use, or nil for the built-in policy.
    public var policyPath: String? {
        if let path = policy.path { return path }
        return FileManager.default.fileExists(atPath: "/etc/posture/policy.yaml") ? "/etc/posture/policy.yaml" : nil
    }
}

extension CollectorConfiguration {
    /// The default location of the configuration file.
    public static let defaultPath = "/etc/posture/collector.yaml"

    /// Reads `path`; a missing file gives the defaults unless `required`.
    public static func load(path: String, required: Bool) throws -> CollectorConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            if required || FileManager.default.fileExists(atPath: path) {
                throw CollectorError(
                    .configuration, "cannot read the configuration file \(path); check the path and its permissions")
            }
            return CollectorConfiguration()
        }
        return try parse(String(decoding: data, as: UTF8.self), file: path)
    }

    public static func parse(_ text: String, file: String) throws -> CollectorConfiguration {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw CollectorError(.configuration, "\(file): not valid YAML: \(error)")
        }
        guard let node else { return CollectorConfiguration() }
        try checkKeys(node, file: file)
        var configuration: CollectorConfiguration
        do {
            configuration = try YAMLDecoder().decode(CollectorConfiguration.self, from: node)
        } catch let error as DecodingError {
            throw CollectorError(.configuration, "\(file): \(describe(error))")
        }
        try configuration.validate(file: file)
        return configuration
    }

    public func validate(file: String) throws {
        guard DeviceIdentity(uri: "spiffe://\(trustDomain)/device/x") != nil, !trustDomain.contains("/") else {
            throw CollectorError(
                .configuration,
                "\(file): trustDomain '\(trustDomain)' is not a SPIFFE trust domain name (e.g. posture.example.com)")
        }
        for (key, value) in [
            ("listen.enrollment", listen.enrollment), ("listen.devices", listen.devices), ("listen.api", listen.api),
        ]
        where HostPort(value) == nil {
            throw CollectorError(.configuration, "\(file): \(key) '\(value)' is not host:port (e.g. 127.0.0.1:8443)")
        }
        if (ca.certificate == nil) != (ca.key == nil) {
            throw CollectorError(.configuration, "\(file): ca.certificate and ca.key are set together or not at all")
        }
        if (tls.certificate == nil) != (tls.key == nil) {
            throw CollectorError(.configuration, "\(file): tls.certificate and tls.key are set together or not at all")
        }
        switch storage.driver {
        case "sqlite": break
        case "postgresql":
            guard let url = storage.url else {
                throw CollectorError(
                    .configuration,
                    "\(file): storage.driver is postgresql but storage.url is not set; add e.g. url: postgresql://posture@db.example:5432/posture"
                )
            }
            do { _ = try PostgresLocation(url: url) } catch {
                throw CollectorError(.configuration, "\(file): \(error)")
            }
            guard (1...1000).contains(storage.connections) else {
                throw CollectorError(.configuration, "\(file): storage.connections must be between 1 and 1000")
            }
        default:
            throw CollectorError(
                .configuration,
                "\(file): storage.driver '\(storage.driver)' is not supported; use sqlite or postgresql")
        }
        for (key, value) in [
            ("keepAttestations", storage.keepAttestations),
            ("keepExpiredCertificates", storage.keepExpiredCertificates),
            ("keepSecurityEvents", storage.keepSecurityEvents),
        ] where value.seconds < 86400 {
            throw CollectorError(
                .configuration, "\(file): storage.\(key) '\(value.text)' is less than a day; use e.g. 30d or 365d")
        }
        guard tls.serverCertificateLifetime.seconds >= 3, tls.serverCertificateLifetime.seconds <= 397 * 86400 else {
            throw CollectorError(
                .configuration, "\(file): tls.serverCertificateLifetime must be between 3s and 397d (browsers' limit)")
        }
        try limits.validate(file: file)
        guard attestations.maxBodyBytes >= 1024 else {
            throw CollectorError(.configuration, "\(file): attestations.maxBodyBytes must be at least 1024")
        }
    }

    /// Top-level keys and, for sections, their keys.
    static let allowedKeys: [String: [String]] = [
        "trustDomain": [], "stateDirectory": [], "devicesURL": [],
        "listen": ["enrollment", "devices", "api"],
        "policy": ["path"],
        "verdicts": ["issuer"],
        "tls": ["serverNames", "serverCertificateLifetime", "certificate", "key"],
        "ca": ["certificate", "key"],
        "certificates": ["deviceLifetime"],
        "attestations": ["maxBodyBytes", "skew", "nonceLifetime"],
        "storage": [
            "driver", "sqlitePath", "url", "passwordFile", "connections", "keepAttestations", "keepExpiredCertificates",
            "keepSecurityEvents",
        ],
        "ssf": ["allowedDestinations", "caBundle", "accessTokens"],
        "tpm": ["endorsementRoots"],
        "ssf.accessTokens": ["issuer", "jwksURI", "audience", "scope"],
        "limits": [
            "handshakeTimeout", "idleTimeout", "enrollmentConnections", "devicesConnections", "apiConnections",
            "storeQueueDepth",
        ],
    ]

    static func checkKeys(_ node: Node, file: String) throws {
        func unknown(_ key: Node, _ path: String, known: [String]) -> CollectorError {
            let line = key.mark.map { ":\($0.line)" } ?? ""
            return CollectorError(
                .configuration,
                "\(file)\(line): unknown key '\(path)'; known keys here: \(known.sorted().joined(separator: ", "))")
        }
        guard let mapping = node.mapping else {
            throw CollectorError(.configuration, "\(file): the top level must be a mapping of keys to values")
        }
        for (key, value) in mapping {
            let name = key.string ?? "?"
            guard !name.contains("."), let children = allowedKeys[name] else {
                throw unknown(key, name, known: allowedKeys.keys.filter { !$0.contains(".") })
            }
            guard !children.isEmpty, let section = value.mapping else { continue }
            for (child, childValue) in section {
                let path = name + "." + (child.string ?? "?")
                guard children.contains(child.string ?? "?") else { throw unknown(child, path, known: children) }
                // A section within a section (ssf.accessTokens) has its own list.
                guard let grandchildren = allowedKeys[path], let subsection = childValue.mapping else { continue }
                for (key, _) in subsection where !grandchildren.contains(key.string ?? "?") {
                    throw unknown(key, path + "." + (key.string ?? "?"), known: grandchildren)
                }
            }
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func key(_ path: [any CodingKey]) -> String { path.map(\.stringValue).joined(separator: ".") }
        switch error {
        case .typeMismatch(let type, let context):
            return "key \(key(context.codingPath)): expected \(type); \(context.debugDescription)"
        case .valueNotFound(_, let context): return "key \(key(context.codingPath)): missing value"
        case .keyNotFound(let missing, let context): return "key \(key(context.codingPath + [missing])): missing"
        case .dataCorrupted(let context): return "key \(key(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

/// `host:port`, with IPv6 hosts in brackets.
public struct HostPort: Sendable, Equatable {
    public var host: String
    public var port: Int

    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
    }
}

// Every key is optional: a missing key (or an empty section) keeps the default.
extension CollectorConfiguration {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = CollectorConfiguration()
        trustDomain = try c.decodeIfPresent(String.self, forKey: .trustDomain) ?? d.trustDomain
        // One URL, or a list: every collector's, which agents fail over between in order.
        if let list = try? c.decodeIfPresent([String].self, forKey: .devicesURL) {
            devicesURLs = list
            devicesURL = list.first
        } else {
            devicesURL = try c.decodeIfPresent(String.self, forKey: .devicesURL)
        }
        stateDirectory = try c.decodeIfPresent(String.self, forKey: .stateDirectory) ?? d.stateDirectory
        listen = try c.decodeIfPresent(Listen.self, forKey: .listen) ?? d.listen
        tls = try c.decodeIfPresent(TLS.self, forKey: .tls) ?? d.tls
        ca = try c.decodeIfPresent(CA.self, forKey: .ca) ?? d.ca
        certificates = try c.decodeIfPresent(Certificates.self, forKey: .certificates) ?? d.certificates
        attestations = try c.decodeIfPresent(Attestations.self, forKey: .attestations) ?? d.attestations
        storage = try c.decodeIfPresent(Storage.self, forKey: .storage) ?? d.storage
        policy = try c.decodeIfPresent(PolicySettings.self, forKey: .policy) ?? d.policy
        verdicts = try c.decodeIfPresent(Verdicts.self, forKey: .verdicts) ?? d.verdicts
        limits = try c.decodeIfPresent(Limits.self, forKey: .limits) ?? d.limits
        ssf = try c.decodeIfPresent(SSF.self, forKey: .ssf) ?? d.ssf
        tpm = try c.decodeIfPresent(TPM.self, forKey: .tpm) ?? d.tpm
    }
}

extension CollectorConfiguration.Listen {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        enrollment = try c.decodeIfPresent(String.self, forKey: .enrollment) ?? enrollment
        devices = try c.decodeIfPresent(String.self, forKey: .devices) ?? devices
        api = try c.decodeIfPresent(String.self, forKey: .api) ?? api
    }
}

extension CollectorConfiguration.TLS {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        serverNames = try c.decodeIfPresent([String].self, forKey: .serverNames) ?? serverNames
        serverCertificateLifetime =
            try c.decodeIfPresent(DurationText.self, forKey: .serverCertificateLifetime) ?? serverCertificateLifetime
        certificate = try c.decodeIfPresent(String.self, forKey: .certificate)
        key = try c.decodeIfPresent(String.self, forKey: .key)
    }
}

extension CollectorConfiguration.CA {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        certificate = try c.decodeIfPresent(String.self, forKey: .certificate)
        key = try c.decodeIfPresent(String.self, forKey: .key)
    }
}

extension CollectorConfiguration.Certificates {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        deviceLifetime = try c.decodeIfPresent(DurationText.self, forKey: .deviceLifetime) ?? deviceLifetime
    }
}

extension CollectorConfiguration.Attestations {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        maxBodyBytes = try c.decodeIfPresent(Int.self, forKey: .maxBodyBytes) ?? maxBodyBytes
        skew = try c.decodeIfPresent(DurationText.self, forKey: .skew) ?? skew
        nonceLifetime = try c.decodeIfPresent(DurationText.self, forKey: .nonceLifetime) ?? nonceLifetime
    }
}

extension CollectorConfiguration.Storage {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        driver = try c.decodeIfPresent(String.self, forKey: .driver) ?? driver
        sqlitePath = try c.decodeIfPresent(String.self, forKey: .sqlitePath)
        url = try c.decodeIfPresent(String.self, forKey: .url)
        passwordFile = try c.decodeIfPresent(String.self, forKey: .passwordFile)
        connections = try c.decodeIfPresent(Int.self, forKey: .connections) ?? connections
        keepAttestations = try c.decodeIfPresent(DurationText.self, forKey: .keepAttestations) ?? keepAttestations
        keepExpiredCertificates =
            try c.decodeIfPresent(DurationText.self, forKey: .keepExpiredCertificates) ?? keepExpiredCertificates
        keepSecurityEvents = try c.decodeIfPresent(DurationText.self, forKey: .keepSecurityEvents) ?? keepSecurityEvents
    }
}

extension CollectorConfiguration.TPM {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        endorsementRoots = try c.decodeIfPresent([String].self, forKey: .endorsementRoots) ?? endorsementRoots
    }
}
