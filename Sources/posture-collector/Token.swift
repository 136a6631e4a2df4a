import ArgumentParser
import PostureCollector
import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enrollment tokens.", subcommands: [Create.self, List.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an enrollment token and print it (it is stored only as a hash).")
        @OptionGroup var options: ConfigOptions
        @Flag(help: "Usable by any number of devices until it expires (default: one use).") var reusable = false
        @Flag(help: "May enroll a machine-id that is already enrolled; the old device is marked replaced.")
        var allowReenroll = false
        @Option(help: "Lifetime, e.g. 30m, 24h, 7d.") var ttl: String = "24h"
        @Option(name: .customLong("label"), help: "A label k=v given to devices enrolled with it (repeatable).")
        var labels: [String] = []

        @Option(help: "Why (recorded in the audit trail).") var reason = "created with posture-collector token create"
        @Option(help: "Who (default: $SUDO_USER or $USER).") var by: String?

        func run() async throws {
            var parsed: [String: String] = [:]
            for label in labels {
                let parts = label.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, !parts[0].isEmpty else {
                    throw ValidationError("--label '\(label)' is not k=v")
                }
                parsed[String(parts[0])] = String(parts[1])
            }
            let request = EnrollmentTokenRequest(
                reusable: reusable, allowReenroll: allowReenroll, ttl: ttl, labels: parsed, reason: reason)
            print(try await options.fleet().createEnrollmentToken(request, by: .local(by ?? currentUser)).token)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never their secret).")
        @OptionGroup var options: ConfigOptions
        @OptionGroup var paging: PageOptions

        func run() async throws {
            let page = try await options.fleet().enrollmentTokens(
                limit: paging.limit, cursor: paging.cursor, by: .local(currentUser))
            for token in page.tokens {
                let kind = token.reusable ? "reusable" : (token.uses == 0 ? "one-time" : "used")
                print("\(token.id)  \(kind)  uses=\(token.uses)  expires=\(token.expiresAt)")
            }
            PageOptions.more(page.nextCursor)
        }
    }
}
