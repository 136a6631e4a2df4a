import AsyncHTTPClient
import Foundation
import JWTKit
import Logging
import NIOCore
import NIOSSL
import PostureModel
import PostureStore

/// Shared Signals receivers authorized by OAuth 2.0 access tokens (RFC 9068 JWTs) from one configured
/// authorization server, besides static API tokens: what an identity provider acting as a receiver (Okta,
/// Entra, an SGNL hub) holds already. The server's key set is fetched from `ssf.accessTokens.jwksURI`
/// over verified TLS, kept, and fetched again when a token names a key it does not have (at most every
/// 30 s, so a flood of made-up key IDs cannot make the collector hammer the server).
actor ReceiverAccessTokens {
    let settings: CollectorConfiguration.SSF.AccessTokens
    private let issuer: Issuer
    /// The `aud` a token must name: the setting, else this collector's issuer URL.
    var audience: String { settings.audience ?? issuer.value }
    private let client: HTTPClient
    private let logger: Logger
    private var keys = JWTKeyCollection()
    private var keyIDs: Set<String> = []
    private var fetchedAt: ContinuousClock.Instant?
    private var lastAttempt: ContinuousClock.Instant?
    private var lastFailure: String?

    /// Algorithms an access token may be signed with; RFC 9068 §2.1 requires RS256 support, and `none`
    /// or an HMAC with a public key as its secret never verify.
    static let algorithms: Set<String> = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]

    init(_ settings: CollectorConfiguration.SSF.AccessTokens, issuer: Issuer, caBundle: String?, logger: Logger) throws
    {
        self.settings = settings
        self.issuer = issuer
        self.logger = logger
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let caBundle {
            tls.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(caBundle))]
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(10))
        configuration.redirectConfiguration = .disallow
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func shutdown() async { try? await client.shutdown() }

    /// True when `bearer` is shaped like a JWT (three base64url parts); API tokens never are.
    nonisolated static func isJWT(_ bearer: String) -> Bool { bearer.split(separator: ".").count == 3 }

    /// The receiver this token stands for: its OAuth client, so a client's streams stay its own across the
    /// tokens it is issued.
    func receiver(for token: String, now: Date = Date()) async throws(AttestationRefusal) -> SignalReceiver {
        let header = try Self.header(of: token)
        guard let alg = header.alg, Self.algorithms.contains(alg) else {
            throw Self.invalid("its alg \(header.alg ?? "(none)") is not one of \(Self.algorithms.sorted())")
        }
        // RFC 9068 §4: a resource server refuses any other type, so an ID token is not taken for an access token.
        guard let typ = header.typ?.lowercased(), typ == "at+jwt" || typ == "application/at+jwt" else {
            throw Self.invalid("its typ is \(header.typ ?? "(none)"), not at+jwt (RFC 9068 §2.1)")
        }
        if let kid = header.kid, !keyIDs.contains(kid) { await refresh(force: true) }
        await refresh(force: false)
        guard !keyIDs.isEmpty else {
            throw AttestationRefusal(
                .unauthorized,
                "the collector has no keys of the authorization server: fetching ssf.accessTokens.jwksURI \(settings.jwksURI) failed (\(lastFailure ?? "not yet fetched")); check the URL and ssf.caBundle in /etc/posture/collector.yaml"
            )
        }
        guard let kid = header.kid, keyIDs.contains(kid) else {
            throw Self.invalid("its kid \(header.kid ?? "(none)") is not in the key set at \(settings.jwksURI)")
        }
        let claims: AccessTokenClaims
        do {
            claims = try await keys.verify(token, as: AccessTokenClaims.self)
        } catch {
            throw Self.invalid("its signature does not verify with key \(kid) of \(settings.jwksURI)")
        }
        // Thirty seconds of leeway for the clocks of two machines.
        guard claims.exp.value.addingTimeInterval(30) > now else {
            throw Self.invalid("it expired at \(claims.exp.value.ISO8601Format())")
        }
        guard claims.iss.value == settings.issuer else {
            throw Self.invalid("its iss is \(claims.iss.value), not ssf.accessTokens.issuer \(settings.issuer)")
        }
        guard claims.aud.value.contains(audience) else {
            throw Self.invalid("its aud \(claims.aud.value) does not include \(audience) (ssf.accessTokens.audience)")
        }
        let scopes = (claims.scope ?? "").split(separator: " ").map(String.init)
        guard scopes.contains(settings.scope) else {
            throw AttestationRefusal(
                .insufficientScope,
                "the access token of client \(claims.clientID) lacks scope \(settings.scope) (it has \(claims.scope ?? "none")); grant it at the authorization server"
            )
        }
        return SignalReceiver(clientID: claims.clientID, issuer: settings.issuer)
    }

    private static func invalid(_ why: String) -> AttestationRefusal {
        AttestationRefusal(.unauthorized, "the access token is not valid here: \(why)")
    }

    struct Header: Decodable {
        var alg: String?
        var typ: String?
        var kid: String?
    }

    static func header(of token: String) throws(AttestationRefusal) -> Header {
        guard let first = token.split(separator: ".", omittingEmptySubsequences: false).first,
            let data = Base64URL.decode(String(first)),
            let header = try? JSONDecoder().decode(Header.self, from: data)
        else { throw invalid("its header is not base64url JSON") }
        return header
    }

    /// Fetches the key set when it is ten minutes old, or (`force`) when a token names an unknown key, but
    /// never twice in 30 s; a failed fetch keeps the keys there were.
    private func refresh(force: Bool) async {
        let now = ContinuousClock.now
        if let fetchedAt, !force, now - fetchedAt < .seconds(600) { return }
        if let lastAttempt, now - lastAttempt < .seconds(30) { return }
        lastAttempt = now
        do {
            guard settings.jwksURI.hasPrefix("https://") else {
                throw CollectorError(.configuration, "ssf.accessTokens.jwksURI must be an https URL")
            }
            var request = HTTPClientRequest(url: settings.jwksURI)
            request.headers.add(name: "Accept", value: "application/jwk-set+json, application/json")
            let response = try await client.execute(request, timeout: .seconds(10))
            guard response.status == .ok else { throw CollectorError(.configuration, "HTTP \(response.status.code)") }
            let body = try await response.body.collect(upTo: 1 << 20)
            let jwks = try JSONDecoder().decode(JWKS.self, from: Data(buffer: body))
            let fresh = JWTKeyCollection()
            var ids: Set<String> = []
            for jwk in jwks.keys {
                // Keys for encryption, or of types jwt-kit cannot verify with, are skipped, not fatal.
                guard jwk.keyIdentifier != nil, (try? await fresh.add(jwk: jwk)) != nil else { continue }
                if let kid = jwk.keyIdentifier?.string { ids.insert(kid) }
            }
            keys = fresh
            keyIDs = ids
            fetchedAt = now
            lastFailure = nil
        } catch {
            lastFailure = "\(error)"
            logger.warning(
                "cannot fetch the authorization server's keys from \(settings.jwksURI): \(error)",
                metadata: ["posture.event": "jwks-fetch-failed"])
        }
    }
}

/// The claims RFC 9068 §2.2 requires of an access token, and `scope`.
struct AccessTokenClaims: JWTPayload {
    var iss: IssuerClaim
    var exp: ExpirationClaim
    var aud: AudienceClaim
    var sub: SubjectClaim
    var clientID: String
    var iat: IssuedAtClaim?
    var jti: IDClaim?
    var scope: String?

    enum CodingKeys: String, CodingKey {
        case iss, exp, aud, sub, iat, jti, scope
        case clientID = "client_id"
    }

    /// The checks that need the configuration are made by `ReceiverAccessTokens` after this.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
