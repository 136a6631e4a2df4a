import X509

/// A device's identity: its ID inside a trust domain, written as the SPIFFE ID
/// `spiffe://<trust-domain>/device/<id>` in the certificate's URI SAN.
public struct DeviceIdentity: Sendable, Hashable, CustomStringConvertible {
    public let trustDomain: String
    public let deviceID: String

    public init(trustDomain: String, deviceID: String) {
        self.trustDomain = trustDomain
        self.deviceID = deviceID
    }

    public var uri: String { "spiffe://\(trustDomain)/device/\(deviceID)" }
    public var description: String { uri }

    /// Parses a SPIFFE device URI; nil for anything else.
    public init?(uri: String) {
        guard uri.hasPrefix("spiffe://") else { return nil }
        let rest = uri.dropFirst("spiffe://".count)
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1] == "device", !parts[0].isEmpty, Self.isValidID(parts[2]) else { return nil }
        trustDomain = String(parts[0])
        deviceID = String(parts[2])
    }

    /// The identity in a certificate's URI SAN; nil when it has none or more than one.
    public init?(certificate: Certificate) {
        guard let names = try? certificate.extensions.subjectAlternativeNames else { return nil }
        let identities = names.compactMap { name -> DeviceIdentity? in
            if case .uniformResourceIdentifier(let uri) = name { return DeviceIdentity(uri: uri) }
            return nil
        }
        guard identities.count == 1, let identity = identities.first else { return nil }
        self = identity
    }

    /// Device IDs are lower-case letters, digits and dashes (the collector issues UUIDs), 1–64 long.
    public static func isValidID(_ id: some StringProtocol) -> Bool {
        !id.isEmpty && id.utf8.count <= 64
            && id.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d }
    }

    /// machine-id(5): exactly 32 lowercase ASCII hex digits, nothing around them.
    public static func isMachineID(_ text: some StringProtocol) -> Bool {
        text.utf8.count == 32 && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }
}
