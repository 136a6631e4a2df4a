import HTTPTypes
import Hummingbird
import Mustache
import PostureModel
import PostureStore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The web dashboard on the API listener, under `/ui`: rendered on the server from Mustache templates,
/// no JavaScript. Sign-in with an API token (or the API client certificate the browser presents) makes
/// a session cookie (HttpOnly, Secure, SameSite=Strict); every form carries the session's CSRF token and
/// must come from this origin. Reading needs `fleet:read`, acting `fleet:write`, checked on each request.
struct DashboardRoutes: Sendable {
    let collector: CollectorCore
    var fleet: FleetOperations { collector.fleet }
    let renderer: DashboardRenderer
    var sessions: DashboardSessions { DashboardSessions(store: collector.store) }

    init(collector: CollectorCore) throws {
        self.collector = collector
        renderer = try DashboardRenderer()
    }

    struct Visitor {
        var sessionID: String
        var session: DashboardSessions.Session
        var token: APITokenRecord
        var canWrite: Bool
        /// What the dashboard acts as: the credential, recorded with `(dashboard)`.
        var caller: Caller { Caller(token: token, via: "dashboard") }
    }

    /// Ends a request early: to the sign-in page, or a page saying what went wrong.
    enum Interruption: Error {
        case signIn
        case refused(String, HTTPResponse.Status)
    }

    func register(on router: Router<CollectorRequestContext>) {
        router.get("/ui/style.css") { _, _ in
            var response = Responses.text(DashboardTemplates.style, contentType: "text/css; charset=utf-8")
            response.headers[.cacheControl] = "max-age=3600"
            return response
        }
        router.get("/ui/sign-in") { _, context in
            page("sign-in", ["title": "Sign in", "certificate": await hasCertificate(context)])
        }
        router.post("/ui/sign-in") { request, context in await signIn(request, context) }
        router.post("/ui/sign-out") { request, _ in
            if let visitor = try? await visitor(request, form: try await Form.read(request), write: false) {
                await sessions.end(visitor.sessionID)
            }
            var response = redirect("/ui/sign-in")
            response.headers[.setCookie] =
                "\(DashboardSessions.cookie)=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"
            return response
        }
        router.get("/ui") { request, _ in
            await guarded(request) { visitor in
                let summary = try await fleet.summary(by: visitor.caller)
                return page("overview", DashboardPages.overview(summary), visitor: visitor, request: request)
            }
        }
        router.get("/ui/devices") { request, _ in
            await guarded(request) { visitor in
                let parameters = request.uri.queryParameters
                let query = try FleetQueryParameters.parse { parameters[Substring($0)].map(String.init) }
                let devices = try await fleet.devices(query, by: visitor.caller)
                return page(
                    "devices", DashboardPages.devices(devices, parameters: parameters), visitor: visitor,
                    request: request)
            }
        }
        router.get("/ui/devices/{id}") { request, context in
            await guarded(request) { visitor in
                let detail = try await fleet.detail(try context.parameters.require("id"), by: visitor.caller)
                return page("device", try await deviceValues(detail, visitor), visitor: visitor, request: request)
            }
        }
        router.post("/ui/devices/{id}/{action}") { request, context in
            let form = (try? await Form.read(request)) ?? [:]
            return await guarded(request, form: form, write: true) { visitor in
                let id = try await fleet.resolve(try context.parameters.require("id"))
                let action = context.parameters.get("action") ?? ""
                let reason = form["reason"]
                do {
                    switch action {
                    case "quarantine", "release":
                        _ = try await fleet.apply(
                            action == "quarantine" ? .quarantine : .release, to: id, reason: reason,
                            by: visitor.caller)
                    case "approve", "deny":
                        guard let grant = form["grant"].flatMap({ Int64($0) }) else {
                            throw AttestationRefusal(.malformedRequest, "which request: the form has no grant")
                        }
                        _ = try await fleet.decideSudo(
                            grant, approve: action == "approve", reason: reason, by: visitor.caller)
                    case "waiver":
                        _ = try await fleet.createWaiver(
                            WaiverRequest(
                                rule: form["rule"], device: id, label: nil, duration: form["duration"], reason: reason),
                            by: visitor.caller)
                    default:
                        throw Interruption.refused("no action \(action)", .notFound)
                    }
                } catch let refusal as AttestationRefusal {
                    let detail = try await fleet.detail(id, by: visitor.caller)
                    var values = try await deviceValues(detail, visitor)
                    values["error"] = refusal.message
                    return page("device", values, visitor: visitor, request: request, status: .badRequest)
                }
                return redirect("/ui/devices/\(id)?done=\(action)")
            }
        }
    }

    /// The device page: its detail and its just-in-time grants.
    private func deviceValues(_ detail: DeviceDetail, _ visitor: Visitor) async throws -> [String: Any] {
        let grants = try await fleet.accessGrants(deviceID: detail.device.id, limit: 50, by: visitor.caller)
        var values = DashboardPages.device(detail).merging(DashboardPages.access(grants, now: Date())) { $1 }
        // The row's own `id` is the grant's inside the grants section: forms name the device by this.
        values["deviceID"] = detail.device.id
        return values
    }

    /// Runs a page for a signed-in visitor; a POST must also carry the CSRF token and come from here.
    private func guarded(
        _ request: Request, form: [String: String]? = nil, write: Bool = false,
        _ body: (Visitor) async throws -> Response
    ) async -> Response {
        do {
            return try await body(try await visitor(request, form: form, write: write))
        } catch Interruption.signIn {
            return redirect("/ui/sign-in")
        } catch Interruption.refused(let message, let status) {
            return page("sign-in", ["title": "Refused", "error": message], status: status)
        } catch let refusal as AttestationRefusal {
            return page(
                "sign-in", ["title": "Refused", "error": refusal.message],
                status: HTTPResponse.Status(code: refusal.code.httpStatus))
        } catch {
            return page("sign-in", ["title": "Error", "error": "\(error)"], status: .internalServerError)
        }
    }

    private func visitor(_ request: Request, form: [String: String]?, write: Bool) async throws -> Visitor {
        guard let id = request.cookies[DashboardSessions.cookie]?.value else { throw Interruption.signIn }
        let found: DashboardSessions.Session?
        do {
            found = try await sessions.session(id)
        } catch {
            throw AttestationRefusal(.internalError, "cannot read the dashboard session from the store: \(error)")
        }
        guard let session = found else { throw Interruption.signIn }
        if let form {
            guard let sent = form["csrf"], DashboardSessions.same(sent, session.csrf), Self.sameOrigin(request) else {
                throw Interruption.refused(
                    "the form is stale or came from another site (CSRF check failed); reload the page and try again",
                    .forbidden)
            }
        }
        var granted: APITokenRecord?
        var refusal: AttestationRefusal?
        do {
            granted = try await collector.authorize(hash: session.credentialHash, scope: FleetOperations.read)
        } catch {
            refusal = error
        }
        guard let token = granted else {
            // Revoked, expired, or no longer allowed to read: the session ends with the credential. Any
            // other failure (the store busy) is shown, and the session stays.
            if refusal?.code == .unauthorized || refusal?.code == .insufficientScope {
                await sessions.end(id)
                throw Interruption.signIn
            }
            throw refusal ?? AttestationRefusal(.internalError, "cannot check the session's credential")
        }
        let canWrite = token.allows(FleetOperations.write)
        if write && !canWrite {
            throw Interruption.refused(
                "\(token.name) may look but not act: sign in with a token that has scope fleet:write", .forbidden)
        }
        return Visitor(sessionID: id, session: session, token: token, canWrite: canWrite)
    }

    /// A browser sends Origin on a POST; when it does, it must be this listener. `required`: also refuse
    /// a POST without one (sign-in, which has no CSRF token yet).
    static func sameOrigin(_ request: Request, required: Bool = false) -> Bool {
        guard let origin = request.headers[.origin] else { return !required }
        guard let host = request.head.authority else { return false }
        return origin == "https://" + host
    }

    private func signIn(_ request: Request, _ context: CollectorRequestContext) async -> Response {
        let form = (try? await Form.read(request)) ?? [:]
        var hash: String?
        if let token = form["token"]?.trimmingWhitespace(), !token.isEmpty {
            hash = EnrollmentTokens.hash(token)
        } else if form["certificate"] != nil,
            let client = await CollectorCore.apiClientID(
                of: context.channel, trustDomain: collector.configuration.trustDomain)
        {
            hash = APITokens.certificateHash(clientID: client)
        }
        guard Self.sameOrigin(request, required: true) else {
            return page(
                "sign-in",
                [
                    "title": "Sign in",
                    "error": "Sign in from this page: the form must come from this collector's origin (Origin header).",
                ], status: .forbidden)
        }
        guard let hash, let token = try? await collector.authorize(hash: hash, scope: FleetOperations.read) else {
            return page(
                "sign-in",
                [
                    "title": "Sign in", "certificate": await hasCertificate(context),
                    "error": "That credential is unknown, expired, revoked, or lacks scope fleet:read.",
                ], status: .unauthorized)
        }
        let id: String
        do {
            (id, _) = try await sessions.create(
                credentialHash: hash, name: token.name, replacing: request.cookies[DashboardSessions.cookie]?.value)
        } catch {
            return page(
                "sign-in", ["title": "Error", "error": "cannot store the session: \(error)"],
                status: .serviceUnavailable)
        }
        var response = redirect("/ui")
        response.headers[.setCookie] =
            "\(DashboardSessions.cookie)=\(id); Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=\(Int(DashboardSessions.lifetime))"
        return response
    }

    private func hasCertificate(_ context: CollectorRequestContext) async -> Bool {
        await CollectorCore.apiClientID(of: context.channel, trustDomain: collector.configuration.trustDomain) != nil
    }

    private func page(
        _ template: String, _ values: [String: Any], visitor: Visitor? = nil, request: Request? = nil,
        status: HTTPResponse.Status = .ok
    ) -> Response {
        var values = values
        if let visitor {
            values["user"] = visitor.token.name
            values["csrf"] = visitor.session.csrf
            values["canWrite"] = visitor.canWrite
        }
        if let done = request?.uri.queryParameters["done"], let message = DashboardPages.done[String(done)] {
            values["flash"] = message
        }
        let html = renderer.render(template, values)
        var response = Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                .contentSecurityPolicy:
                    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                .xContentTypeOptions: "nosniff",
            ], body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
        // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on forms.
        if let referrerPolicy = HTTPField.Name("Referrer-Policy") { response.headers[referrerPolicy] = "same-origin" }
        return response
    }

    private func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }
}

/// The compiled templates. Public so the benchmark renders pages exactly as the dashboard does.
public struct DashboardRenderer: Sendable {
    let library: MustacheLibrary

    public init() throws { library = try DashboardTemplates.library() }

    func render(_ template: String, _ values: [String: Any]) -> String {
        var values = values
        values["version"] = postureVersion
        return library.render(values, withTemplate: template) ?? "template \(template) missing"
    }

    /// The overview page for `summary`, as a signed-in operator sees it.
    public func overview(_ summary: FleetSummary, user: String) -> String {
        var values = DashboardPages.overview(summary)
        values["user"] = user
        values["csrf"] = DashboardSessions.random()
        return render("overview", values)
    }
}

/// `application/x-www-form-urlencoded` bodies.
enum Form {
    static func read(_ request: Request) async throws -> [String: String] {
        parse(String(decoding: try await request.collectBody(limit: 16 << 10), as: UTF8.self))
    }

    static func parse(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0]) else { continue }
            values[name] = parts.count > 1 ? decode(parts[1]) ?? "" : ""
        }
        return values
    }

    /// `+` is a space; `%XX` a byte; nil for a malformed escape or invalid UTF-8.
    static func decode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var index = text.utf8.startIndex
        let utf8 = text.utf8
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%") {
                let high = utf8.index(after: index)
                guard high < utf8.endIndex, utf8.index(after: high) < utf8.endIndex,
                    let value = UInt8(
                        String(decoding: [utf8[high], utf8[utf8.index(after: high)]], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(value)
                index = utf8.index(high, offsetBy: 2)
            } else {
                bytes.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                index = utf8.index(after: index)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// The inverse, for links that carry filters.
    static func encode(_ text: String) -> String { PercentEncoding.encode(text) }
}
