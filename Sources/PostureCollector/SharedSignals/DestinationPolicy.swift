import PostureModel

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Where Security Event Tokens may be pushed. A token with `ssf:manage` names the endpoint, so without a
/// rule it could make the collector send requests into the operator's own network (its loopback, cloud
/// metadata at 169.254.169.254, internal services). Only `https` is accepted; a destination is allowed
/// when it matches `ssf.allowedDestinations` (a host name, `*.domain`, an address or a CIDR range, each with
/// an optional `:port`), or, with no list, when every address it resolves to is public (not loopback,
/// link-local, private, unique-local, shared, multicast or unspecified). Checked when a stream is created
/// and again before each delivery, since DNS can change in between.
struct DestinationPolicy: Sendable {
    let allowed: [String]

    /// Resolves host names (getaddrinfo); replaceable in tests.
    var resolve: @Sendable (String) -> [[UInt8]] = DestinationPolicy.systemResolve

    init(allowed: [String]) { self.allowed = allowed }

    func check(_ endpoint: String) throws(AttestationRefusal) {
        guard let url = URL(string: endpoint), url.scheme?.lowercased() == "https", let host = url.host,
            !host.isEmpty
        else {
            throw AttestationRefusal(
                .malformedRequest, "delivery.endpoint_url must be an https URL (got \(endpoint.prefix(200)))")
        }
        let name = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host.lowercased()
        let port = url.port ?? 443
        let addresses = Self.parseAddress(name).map { [$0] } ?? resolve(name)
        guard !addresses.isEmpty else {
            throw AttestationRefusal(.malformedRequest, "delivery.endpoint_url host \(name) does not resolve")
        }
        let patterns = allowed.map(Pattern.init)
        if patterns.contains(where: { $0.matches(name: name, port: port) })
            || (!patterns.isEmpty
                && addresses.allSatisfy { address in patterns.contains { $0.matches(address: address, port: port) } })
        {
            return
        }
        if patterns.isEmpty, let inner = addresses.first(where: { Self.internalRange($0) != nil }) {
            throw AttestationRefusal(
                .malformedRequest,
                "delivery.endpoint_url \(name) is \(Self.describe(inner)) (\(Self.internalRange(inner) ?? "")): list it in ssf.allowedDestinations in collector.yaml to allow it"
            )
        }
        if !patterns.isEmpty {
            throw AttestationRefusal(
                .malformedRequest,
                "delivery.endpoint_url \(name):\(port) is not in ssf.allowedDestinations (\(allowed.joined(separator: ", ")))"
            )
        }
    }

    /// One allow-list entry: `host`, `*.domain`, `1.2.3.4`, `10.0.0.0/8`, `[::1]`, each with `:port` or not.
    struct Pattern {
        var host: String
        var port: Int?
        var network: (bytes: [UInt8], prefix: Int)?

        init(_ text: String) {
            var rest = text.lowercased()
            port = nil
            if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
                let after = rest[rest.index(after: close)...]
                if after.hasPrefix(":") { port = Int(after.dropFirst()) }
                rest = String(rest[rest.index(after: rest.startIndex)..<close])
            } else if rest.filter({ $0 == ":" }).count == 1, let colon = rest.lastIndex(of: ":") {
                port = Int(rest[rest.index(after: colon)...])
                rest = String(rest[..<colon])
            }
            host = rest
            let parts = rest.split(separator: "/", maxSplits: 1)
            if let bytes = DestinationPolicy.parseAddress(String(parts.first ?? "")) {
                let prefix = parts.count == 2 ? Int(parts[1]) ?? bytes.count * 8 : bytes.count * 8
                network = (bytes, min(max(prefix, 0), bytes.count * 8))
            } else {
                network = nil
            }
        }

        func matches(name: String, port: Int) -> Bool {
            guard network == nil, self.port == nil || self.port == port else { return false }
            if host.hasPrefix("*.") { return name.hasSuffix(host.dropFirst()) }
            return name == host
        }

        func matches(address: [UInt8], port: Int) -> Bool {
            guard let network, self.port == nil || self.port == port, network.bytes.count == address.count else {
                return false
            }
            return DestinationPolicy.contains(network.bytes, prefix: network.prefix, address)
        }
    }

    static func contains(_ network: [UInt8], prefix: Int, _ address: [UInt8]) -> Bool {
        for bit in 0..<prefix {
            let mask = UInt8(0x80) >> UInt8(bit % 8)
            if network[bit / 8] & mask != address[bit / 8] & mask { return false }
        }
        return true
    }

    /// The kind of internal range an address is in, or nil when it is public.
    static func internalRange(_ address: [UInt8]) -> String? {
        let ranges: [(String, Int, String)] =
            address.count == 4
            ? [
                ("127.0.0.0", 8, "loopback"), ("169.254.0.0", 16, "link-local"), ("10.0.0.0", 8, "private"),
                ("172.16.0.0", 12, "private"), ("192.168.0.0", 16, "private"), ("100.64.0.0", 10, "shared"),
                ("0.0.0.0", 8, "unspecified"), ("224.0.0.0", 4, "multicast"), ("240.0.0.0", 4, "reserved"),
            ]
            : [
                ("::1", 128, "loopback"), ("::", 128, "unspecified"), ("fe80::", 10, "link-local"),
                ("fc00::", 7, "unique-local"), ("ff00::", 8, "multicast"), ("::ffff:0:0", 96, "IPv4-mapped"),
            ]
        for (network, prefix, kind) in ranges {
            if let bytes = parseAddress(network), contains(bytes, prefix: prefix, address) { return kind }
        }
        return nil
    }

    static func describe(_ address: [UInt8]) -> String {
        address.count == 4
            ? address.map(String.init).joined(separator: ".")
            : stride(from: 0, to: 16, by: 2).map {
                String(UInt16(address[$0]) << 8 | UInt16(address[$0 + 1]), radix: 16)
            }
            .joined(separator: ":")
    }

    /// An IPv4 or IPv6 literal's bytes (inet_pton).
    static func parseAddress(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    static func systemResolve(_ host: String) -> [[UInt8]] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0 else { return [] }
        defer { freeaddrinfo(result) }
        var addresses: [[UInt8]] = []
        var next = result
        while let info = next {
            if info.pointee.ai_family == AF_INET, let address = info.pointee.ai_addr {
                address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                    var raw = v4.pointee.sin_addr
                    addresses.append(withUnsafeBytes(of: &raw) { Array($0) })
                }
            } else if info.pointee.ai_family == AF_INET6, let address = info.pointee.ai_addr {
                address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                    var raw = v6.pointee.sin6_addr
                    addresses.append(withUnsafeBytes(of: &raw) { Array($0) })
                }
            }
            next = info.pointee.ai_next
        }
        return addresses
    }
}
