import Foundation
import Hummingbird
import NIOConcurrencyHelpers
import PostureModel
import PostureStore

/// The Shared Signals transmitter's discovery document (SSF 1.0 §7.1), beside the JWKS; the stream
/// endpoints are `SSFHandlers`. A receiver authenticates with an API token (or client certificate) with
/// `ssf:manage`, or an OAuth access token of `ssf.accessTokens`.
struct SSFRoutes: Sendable {
    let collector: CollectorCore

    func register(on router: Router<CollectorRequestContext>) {
        router.get("/.well-known/ssf-configuration") { _, _ in
            Responses.json(SSFConfiguration(issuer: collector.issuer, oauth: collector.receiverTokens != nil))
        }
    }
}

/// Who manages a stream: an API credential with `ssf:manage`, or an OAuth client (`ReceiverAccessTokens`).
struct SignalReceiver: Sendable {
    /// What its streams are stored under: the API token's ID, or `oauth:<client_id>@<issuer>`.
    let id: String
    /// The OAuth client, for an access token.
    let clientID: String?
    /// How the audit trail names it.
    let actor: String

    /// Set by `APIAuthentication` for the generated SSF handlers.
    @TaskLocal static var current: SignalReceiver?

    init(apiToken: APITokenRecord) {
        id = apiToken.id
        clientID = nil
        actor = "apitoken:\(apiToken.name)"
    }

    init(clientID: String, issuer: String) {
        id = "oauth:\(clientID)@\(issuer)"
        self.clientID = clientID
        actor = id
    }
}
