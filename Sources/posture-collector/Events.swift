import ArgumentParser
import PostureCollector

struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Security events, newest first: refused attestations, enrollments and handshakes.")
    @OptionGroup var options: ConfigOptions
    @Option(help: "Only this device's events.") var device: String?
    @Option(help: "A code, or a prefix ending in '.' (e.g. enforcement.).") var code: String?
    @Option(help: "Continue after a previous page's nextCursor.") var cursor: String?
    @Option(help: "At most this many (1 to 1000).") var limit: Int = 100

    func run() async throws {
        let values: [String: String?] = [
            "device": device, "code": code, "cursor": cursor, "limit": String(limit),
        ]
        let query = try FleetQueryParameters.events { values[$0] ?? nil }
        print(try encode(try await options.fleet().events(query, by: .local(currentUser))))
    }
}
