import Foundation
import Hummingbird
import PostureModel
import Testing

@testable import PostureCollector

/// Refusals as clients get them: RFC 9457 problems, RFC 6750 challenges, and no internal detail.
@Suite struct RefusalResponseTests {
    /// The body `Responses.refusal` writes for `error`.
    func body(_ error: any Error) throws -> [String: Any] {
        let data = try PostureReport.wireEncoder().encode(ErrorBody(Responses.forClient(error)))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func aRefusalIsAProblemWithItsCodeStatusAndFix() throws {
        let refusal = AttestationRefusal(.notFound, "no device d1; list them with posturectl devices list")
        let response = Responses.refusal(refusal)
        #expect(response.status.code == 404)
        #expect(response.headers[.contentType] == "application/problem+json")
        let problem = try body(refusal)
        #expect(problem["type"] as? String == "urn:posture:problem:not_found")
        #expect(problem["status"] as? Int == 404)
        #expect(problem["title"] as? String == "not found")
        #expect(problem["detail"] as? String == "no device d1; list them with posturectl devices list")
        // What clients before 0.7 read.
        #expect(problem["error"] as? String == "not_found")
        #expect(problem["message"] as? String == problem["detail"] as? String)
        // And what they decode it as, with the older body too.
        let decoded = try JSONDecoder().decode(ErrorBody.self, from: Data(#"{"error":"not_found","message":"m"}"#.utf8))
        #expect(decoded.refusal == AttestationRefusal(.notFound, "m"))
        #expect(decoded.status == 404)
    }

    @Test func credentialsRefusedNameTheBearerChallenge() {
        let unauthorized = Responses.refusal(AttestationRefusal(.unauthorized, "the API token is unknown"))
        #expect(unauthorized.headers[.wwwAuthenticate]?.hasPrefix("Bearer realm=\"posture-collector\"") == true)
        let scope = Responses.refusal(AttestationRefusal(.insufficientScope, "lacks fleet:write"))
        #expect(scope.status.code == 403)
        #expect(scope.headers[.wwwAuthenticate]?.contains("error=\"insufficient_scope\"") == true)
    }

    struct DatabaseDown: Error, CustomStringConvertible {
        var description: String { "SQLITE_IOERR at /var/lib/posture/collector.db: disk I/O error" }
    }

    @Test func theCollectorsOwnFailureShowsAnIncidentNotItsInternals() throws {
        for error in [
            DatabaseDown() as any Error,
            AttestationRefusal(.internalError, "cannot read API tokens: \(DatabaseDown())"),
        ] {
            #expect(Responses.refusal(error).status.code == 500)
            let problem = try body(error)
            let detail = try #require(problem["detail"] as? String)
            #expect(!detail.contains("SQLITE") && !detail.contains("/var/lib"), "\(detail)")
            #expect(detail.contains("incident "), "\(detail)")
            #expect(detail.contains("POSTURE_INCIDENT="))
        }
    }
}
