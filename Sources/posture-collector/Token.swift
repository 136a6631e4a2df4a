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

        func run() async throws {
            guard let lifetime = DurationText(ttl) else {
                throw ValidationError("--ttl '\(ttl)' is not a duration; write e.g. 30m, 24h or 7d")
            }
            var parsed: [String: String] = [:]
            for label in labels {
                let parts = label.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, !parts[0].isEmpty else {
                    throw ValidationError("--label '\(label)' is not k=v")
                }
                parsed[String(parts[0])] = String(parts[1])
            }
            let configuration = try options.load()
            let store = try await Collector.openStore(configuration)
            let created = EnrollmentTokens.create(
                reusable: reusable, allowReenroll: allowReenroll, ttl: lifetime.duration, labels: parsed, now: Date())
            try await store.insertToken(created.record)
            print(created.token)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never their secret).")
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let store = try await Collector.openStore(try options.load())
            for token in try await store.tokens() {
                let kind = token.reusable ? "reusable" : (token.usedAt == nil ? "one-time" : "used")
                print("\(token.id)  \(kind)  uses=\(token.uses)  expires=\(token.expiresAt)")
            }
        }
    }
}
