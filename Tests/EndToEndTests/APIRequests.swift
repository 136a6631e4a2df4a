import Foundation
import TestSupport
import Testing

// The collector's API listener as a client sees it: curl with a bearer token, the body and HTTP status apart.

func curl(_ collector: CollectorHarness, _ path: String, token: String, extra: [String] = []) throws -> Shell.Output {
    try Shell.runAllowingFailure(
        [
            "curl", "-sS", "--cacert", collector.caPath, "-H", "Authorization: Bearer \(token)", "-H",
            "Content-Type: application/json", "-w", "\n%{http_code}",
        ]
            + extra + [collector.apiURL + path], timeout: 90)
}

func json(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
}

/// Body and status of a curl run with `-w "\n%{http_code}"`.
func split(_ output: Shell.Output) -> (String, Int) {
    let lines = output.stdout.split(separator: "\n", omittingEmptySubsequences: false)
    return (lines.dropLast().joined(separator: "\n"), Int(lines.last ?? "") ?? 0)
}
