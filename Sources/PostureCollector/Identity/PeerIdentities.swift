import Crypto
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import PostureModel
import X509

/// The device behind a mutual-TLS connection: parsed once per connection (TLS 1.3 has no renegotiation)
/// and forgotten when the connection closes.
public struct PeerIdentity: @unchecked Sendable {
    // @unchecked: P256.Signing.PublicKey is an immutable BoringSSL key, only missing the annotation on Linux.
    public var identity: DeviceIdentity
    public var publicKey: P256.Signing.PublicKey
    public var serial: String
}

final class PeerIdentities: Sendable {
    private let cache = NIOLockedValueBox([ObjectIdentifier: PeerIdentity]())
    let trustDomain: String

    init(trustDomain: String) { self.trustDomain = trustDomain }

    /// `channel` is the connection (HTTP/1.1) or one of its HTTP/2 streams, whose parent is the connection
    /// that holds the TLS handler. Entries are kept by connection only: a server channel (an HTTP/1.1
    /// connection's parent) never holds one.
    func identity(of channel: any Channel) async throws(AttestationRefusal) -> PeerIdentity {
        if let known = cache.withLockedValue({ cache in
            cache[ObjectIdentifier(channel)] ?? channel.parent.flatMap { cache[ObjectIdentifier($0)] }
        }) {
            return known
        }
        var connection = channel
        var peer = try? await channel.nioSSL_peerCertificate().get()
        if peer == nil, let parent = channel.parent {
            connection = parent
            peer = try? await parent.nioSSL_peerCertificate().get()
        }
        guard let peer, let certificate = try? Certificate(derEncoded: try peer.toDERBytes()) else {
            throw AttestationRefusal(.certificateRequired, "this endpoint needs the device's client certificate")
        }
        let identity = try Self.identity(of: certificate, trustDomain: trustDomain)
        let key = ObjectIdentifier(connection)
        cache.withLockedValue { $0[key] = identity }
        connection.closeFuture.whenComplete { [cache] _ in cache.withLockedValue { _ = $0.removeValue(forKey: key) } }
        return identity
    }

    static func identity(of certificate: Certificate, trustDomain: String) throws(AttestationRefusal) -> PeerIdentity {
        guard let identity = DeviceIdentity(certificate: certificate), identity.trustDomain == trustDomain else {
            throw AttestationRefusal(
                .certificateRequired, "the client certificate carries no spiffe://\(trustDomain)/device/<id> URI SAN")
        }
        guard let key = P256.Signing.PublicKey(certificate.publicKey) else {
            throw AttestationRefusal(.certificateRequired, "the client certificate's key is not P-256")
        }
        return PeerIdentity(identity: identity, publicKey: key, serial: certificate.serialNumber.description)
    }
}
