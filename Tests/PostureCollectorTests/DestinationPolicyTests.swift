import Foundation
import PostureModel
import Testing

@testable import PostureCollector

/// Where SETs may be pushed, and what a receiver's answer means.
@Suite struct DestinationPolicyTests {
    func refusal(_ policy: DestinationPolicy, _ url: String) -> String? {
        do {
            try policy.check(url)
            return nil
        } catch {
            return error.message
        }
    }

    @Test func withNoListOnlyPublicHTTPSDestinationsAreAllowed() {
        var policy = DestinationPolicy(allowed: [])
        policy.resolve = { host in
            switch host {
            case "receiver.example": [[93, 184, 216, 34]]
            case "rebind.example": [[93, 184, 216, 34], [10, 1, 2, 3]]
            default: []
            }
        }
        #expect(refusal(policy, "https://receiver.example/events") == nil)
        #expect(refusal(policy, "https://203.0.113.9:8443/e") == nil)
        #expect(refusal(policy, "http://receiver.example/events")?.contains("https") == true)
        for (url, kind) in [
            ("https://127.0.0.1/", "loopback"), ("https://169.254.169.254/latest", "link-local"),
            ("https://10.0.0.8/", "private"), ("https://[::1]/", "loopback"), ("https://[fd00::1]/", "unique-local"),
            ("https://[::ffff:127.0.0.1]/", "IPv4-mapped"), ("https://rebind.example/", "private"),
        ] {
            #expect(refusal(policy, url)?.contains(kind) == true, "\(url)")
        }
        #expect(refusal(policy, "https://nowhere.example/")?.contains("does not resolve") == true)
    }

    @Test func aListAllowsWhatItNamesAndNothingElse() {
        var policy = DestinationPolicy(allowed: ["127.0.0.1:9443", "*.corp.example", "10.20.0.0/16", "[::1]"])
        policy.resolve = { host in
            switch host {
            case "siem.corp.example": [[10, 99, 0, 1]]
            case "public.example": [[93, 184, 216, 34]]
            default: []
            }
        }
        #expect(refusal(policy, "https://127.0.0.1:9443/e") == nil)
        #expect(refusal(policy, "https://127.0.0.1:9444/e")?.contains("not in ssf.allowedDestinations") == true)
        #expect(refusal(policy, "https://siem.corp.example/e") == nil)
        #expect(refusal(policy, "https://10.20.3.4/e") == nil)
        #expect(refusal(policy, "https://10.21.3.4/e") != nil)
        #expect(refusal(policy, "https://[::1]:7000/e") == nil)
        #expect(refusal(policy, "https://public.example/e") != nil, "a list allows only what it names")
    }

    @Test func aReceiversAnswerIsDeliveredRejectedForGoodOrRetried() {
        #expect(SignalTransmitter.outcome(status: 202, body: nil) == .delivered)
        #expect(SignalTransmitter.outcome(status: 200, body: Array("{}".utf8)) == .delivered)
        #expect(
            SignalTransmitter.outcome(status: 400, body: Array(#"{"err":"invalid_audience","description":"x"}"#.utf8))
                == .rejected("invalid_audience: x"))
        guard case .retry = SignalTransmitter.outcome(status: 400, body: Array("bad".utf8)) else {
            Issue.record("a 400 without an RFC 8935 error object is retried")
            return
        }
        guard case .retry = SignalTransmitter.outcome(status: 503, body: nil) else {
            Issue.record("a 5xx is retried")
            return
        }
    }
}
