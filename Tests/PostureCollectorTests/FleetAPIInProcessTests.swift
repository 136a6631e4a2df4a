import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import PostureModel
import PostureStore
import TestSupport
import Testing

@testable import PostureCollector

/// The fleet API in-process, through Hummingbird's test harness: the handlers generated from openapi.yaml,
/// `APIAuthentication` in front of them and `FleetOperations` behind them, on a real SQLite store, with
/// no sockets and no TLS (which `FleetTests` cover with the real binaries).
@Suite struct FleetAPIInProcessTests {
    /// A collector's core on a fresh state directory, its verdicts started, and one API token per scope set.
    struct Harness {
        let core: CollectorCore
        let router: Router<CollectorRequestContext>
        var tokens: [String: String] = [:]

        init() async throws {
            var configuration = CollectorConfiguration()
            configuration.stateDirectory = try Paths.temporaryDirectory("fleet-api").path
            core = try Collector(configuration: configuration, logger: Logger(label: "test")).core
            try await core.transmitter.load()
            try await core.verdicts.setTransmitter(core.transmitter)
            try await core.verdicts.start()
            router = Router(context: CollectorRequestContext.self)
            try OpenAPIRoutes(collector: core).register(on: router)
            for (name, scopes) in [("reader", ["fleet:read"]), ("writer", ["fleet:write"]), ("root", ["admin"])] {
                let (secret, record) = APITokens.create(name: name, scopes: scopes, ttl: nil, now: Date())
                try await core.store.insertAPIToken(
                    record,
                    recording: OperatorAction(
                        at: Date(), actor: "test", action: "apitoken-create", deviceID: nil, target: record.id,
                        reason: name))
                tokens[name] = secret
            }
        }

        /// Runs `body` against a fresh harness, then closes the clients the core opened.
        static func with(_ body: (Harness) async throws -> Void) async throws {
            let harness = try await Harness()
            do {
                try await body(harness)
            } catch {
                await harness.core.transmitter.closeClient()
                throw error
            }
            await harness.core.transmitter.closeClient()
        }

        func call(
            _ method: HTTPRequest.Method, _ uri: String, token: String? = nil, body: String? = nil,
            headers extra: HTTPFields = [:]
        ) async throws -> (status: Int, headers: HTTPFields, json: [String: Any], text: String) {
            var headers = extra
            if let token { headers[.authorization] = "Bearer \(tokens[token] ?? token)" }
            if body != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
            let app = Application(router: router)
            let sent = headers
            return try await app.test(.router) { client in
                try await client.execute(
                    uri: uri, method: method, headers: sent, body: body.map { ByteBuffer(string: $0) }
                ) { response in
                    let text = String(buffer: response.body)
                    let json = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
                    return (Int(response.status.code), response.headers, json, text)
                }
            }
        }
    }

    @Test func credentialsAndScopesAreCheckedBeforeAnything() async throws {
        try await Harness.with { api in
            let anonymous = try await api.call(.get, "/v1/devices")
            #expect(anonymous.status == 401)
            #expect(anonymous.headers[.wwwAuthenticate]?.hasPrefix("Bearer realm=\"posture-collector\"") == true)
            #expect(anonymous.headers[.contentType] == "application/problem+json")
            #expect(anonymous.json["error"] as? String == "unauthorized")
            #expect(try await api.call(.get, "/v1/devices", token: "pat_unknown").status == 401)
            #expect(try await api.call(.get, "/v1/devices", token: "reader").json["devices"] is [Any])
            // A read token may not write, a write token may not mint tokens: 403 naming the scope.
            let waiver = #"{"rule":"secure-boot","label":"team=web","duration":"1h","reason":"rollout"}"#
            let readOnly = try await api.call(.post, "/v1/waivers", token: "reader", body: waiver)
            #expect(readOnly.status == 403 && readOnly.text.contains("lacks scope fleet:write"), "\(readOnly.text)")
            #expect(readOnly.headers[.wwwAuthenticate]?.contains("insufficient_scope") == true)
            let mint = try await api.call(
                .post, "/v1/api-tokens", token: "writer", body: #"{"name":"x","scopes":["admin"]}"#)
            #expect(mint.status == 403 && mint.text.contains("lacks scope admin"))
        }
    }

    @Test func aRequestTheDocumentDoesNotAllowIsRefusedWithWhatToSend() async throws {
        try await Harness.with { api in
            let sort = try await api.call(.get, "/v1/devices?sort=color", token: "reader")
            #expect(
                sort.status == 400 && sort.text.contains("use hostname, last_seen, enrolled, verdict_since"),
                "\(sort.text)")
            let noReason = try await api.call(
                .post, "/v1/waivers", token: "writer", body: #"{"rule":"r","duration":"1h"}"#)
            #expect(noReason.status == 400 && noReason.text.contains("createWaiver"), "\(noReason.text)")
            // The operation's own rule, beyond what a schema says: exactly one of device and label.
            let both = try await api.call(
                .post, "/v1/waivers", token: "writer",
                body: #"{"rule":"r","duration":"1h","reason":"x","device":"d","label":"a=b"}"#)
            #expect(both.status == 400 && both.text.contains("exactly one of device"), "\(both.text)")
            let large = try await api.call(
                .post, "/v1/waivers", token: "writer",
                body: #"{"reason":""# + String(repeating: "x", count: 20000) + #""}"#)
            #expect(large.status == 413)
            let method = try await api.call(.delete, "/v1/waivers", token: "root")
            #expect(method.status == 405 && method.headers[.allow] == "GET, POST")
        }
    }

    @Test func whatABrowserSendsForAnotherSiteIsRefused() async throws {
        try await Harness.with { api in
            let body = #"{"rule":"r","label":"a=b","duration":"1h","reason":"x"}"#
            let form = try await api.call(
                .post, "/v1/waivers", token: "writer", body: body, headers: [.contentType: "text/plain"])
            #expect(form.status == 400 && form.text.contains("Content-Type: application/json"))
            let crossSite = try await api.call(
                .post, "/v1/waivers", token: "writer", body: body,
                headers: [HTTPField.Name("Sec-Fetch-Site")!: "cross-site"])
            #expect(crossSite.status == 400 && crossSite.text.contains("for another site"))
            let origin = try await api.call(
                .post, "/v1/waivers", token: "writer", body: body, headers: [.origin: "https://evil.example"])
            #expect(origin.status == 400 && origin.text.contains("https://evil.example"))
            #expect(
                (try await api.call(.get, "/v1/waivers", token: "reader").json["waivers"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func waiversAreCreatedPagedRevokedAndAudited() async throws {
        try await Harness.with { api in
            var created: [String] = []
            for team in ["a", "b", "c"] {
                let waiver = try await api.call(
                    .post, "/v1/waivers", token: "writer",
                    body: #"{"rule":"secure-boot","label":"team=\#(team)","duration":"1h","reason":"rollout \#(team)"}"#
                )
                #expect(waiver.status == 201 && waiver.json["by"] as? String == "apitoken:writer", "\(waiver.text)")
                created.append(try #require(waiver.json["id"] as? String))
                try await Task.sleep(for: .milliseconds(5))
            }
            // Newest first, one at a time, each once.
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await api.call(
                    .get, "/v1/waivers?limit=1" + (cursor.map { "&cursor=\($0)" } ?? ""), token: "reader")
                seen += (page.json["waivers"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                cursor = page.json["nextCursor"] as? String
            } while cursor != nil && seen.count < 10
            #expect(seen == created.reversed())
            let revoked = try await api.call(
                .post, "/v1/waivers/\(created[0])/revoke", token: "writer", body: #"{"reason":"done"}"#)
            #expect(revoked.status == 200 && revoked.json["revokedAt"] != nil, "\(revoked.text)")
            let again = try await api.call(
                .post, "/v1/waivers/\(created[0])/revoke", token: "writer", body: #"{"reason":"done"}"#)
            #expect(again.status == 404)
            // Every write is in the hash chain under the token's name, and the chain holds.
            let actions = try await api.core.store.operatorActions(after: 0, limit: 100)
            #expect(
                actions.filter { $0.actor == "apitoken:writer" }.map(\.action) == [
                    "waiver", "waiver", "waiver", "waiver-revoke",
                ])
            let audit = try await api.call(.get, "/v1/audit/verify", token: "reader")
            #expect(audit.json["intact"] as? Bool == true && (audit.json["entries"] as? Int ?? 0) >= 7, "\(audit.text)")
            let head = try #require(audit.json["head"] as? String)
            let moved = try await api.call(
                .get, "/v1/audit/verify?expectHead=\(String(head.reversed()))", token: "reader")
            #expect(moved.json["intact"] as? Bool == false)
        }
    }
}

extension FleetAPIInProcessTests {
    /// The Shared Signals endpoints through the same harness: a receiver's stream, created, read, paused and
    /// deleted, and a body the operation cannot read refused 400, never a failure of the collector.
    @Test func aReceiverManagesItsStreamAndABadBodyIsTheReceiversMistake() async throws {
        try await Harness.with { api in
            let created = try await api.call(
                .post, "/ssf/streams", token: "root",
                body: #"{"delivery":{"method":"urn:ietf:rfc:8936"},"events_requested":[]}"#)
            #expect(created.status == 201, "\(created.text)")
            let id = try #require(created.json["stream_id"] as? String)
            let listed = try await api.call(.get, "/ssf/streams", token: "root")
            #expect(listed.status == 200 && listed.text.contains(id), "\(listed.text)")
            let one = try await api.call(.get, "/ssf/streams?stream_id=\(id)", token: "root")
            #expect(one.status == 200 && one.json["stream_id"] as? String == id, "\(one.text)")
            let paused = try await api.call(
                .post, "/ssf/status", token: "root", body: #"{"stream_id":"\#(id)","status":"paused","reason":"x"}"#)
            #expect(paused.status == 200 && paused.json["status"] as? String == "paused", "\(paused.text)")
            #expect(
                try await api.call(.get, "/ssf/status?stream_id=\(id)", token: "root").json["status"] as? String
                    == "paused")
            let odd = try await api.call(
                .post, "/ssf/streams", token: "root", body: #"{"delivery":{"method":{}},"aud":""}"#)
            #expect(odd.status == 400, "\(odd.text)")
            #expect(try await api.call(.delete, "/ssf/streams?stream_id=\(id)", token: "root").status == 204)
            #expect(try await api.call(.get, "/ssf/streams?stream_id=\(id)", token: "root").status == 404)
            #expect(try await api.call(.get, "/ssf/streams").status == 401)
            #expect(try await api.call(.get, "/ssf/streams", token: "reader").status == 403)
        }
    }
}
