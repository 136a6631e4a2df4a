import ArgumentParser
import PostureCollector

struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Security events, newest first: refused attestations, enrollments and handshakes.")
    @OptionGroup var options: ConfigOptions
    @Option var limit: Int = 100

    func run() async throws {
        let store = try await Collector.openStore(try options.load())
        print(try encode(try await store.securityEvents(limit: limit)))
    }
}
