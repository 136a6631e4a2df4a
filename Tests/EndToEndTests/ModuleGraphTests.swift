import Foundation
import TestSupport
import Testing

/// The module graph as the binaries have it: the collector links neither the agent nor the probes (its
/// posturectl is the operator half), and the agent links no collector. Counted in the symbol tables of
/// the built executables, where a Swift symbol carries its module's name (`13PostureProbes…`).
@Suite(Requirement.available(programs: ["nm"]))
struct ModuleGraphTests {
    /// How many symbols of each module the executable defines or uses.
    func symbols(_ executable: String, modules: [String]) throws -> [String: Int] {
        let table = try Shell.run(["nm", executable], timeout: 120).stdout
        var counts: [String: Int] = [:]
        for module in modules {
            counts[module] = table.components(separatedBy: "\(module.utf8.count)\(module)").count - 1
        }
        return counts
    }

    @Test func theCollectorLinksNoAgentAndNoProbeCode() throws {
        let modules = ["PostureProbes", "PostureAgent", "PostureLinux", "PostureControl", "PostureOperator"]
        let collector = try symbols(CollectorHarness.collectorBinary, modules: modules)
        print("posture-collector symbols by module: \(collector.sorted { $0.key < $1.key })")
        for module in ["PostureProbes", "PostureAgent", "PostureLinux", "PostureControl"] {
            #expect(collector[module] == 0, "posture-collector links \(module)")
        }
        // posturectl's operator half is there; and the same count finds the probes in the agent.
        #expect(collector["PostureOperator", default: 0] > 0)
        let agent = try symbols(CollectorHarness.agentBinary, modules: ["PostureProbes", "PostureCollector"])
        #expect(agent["PostureProbes", default: 0] > 0)
        #expect(agent["PostureCollector"] == 0, "postured links the collector")
    }
}

extension ModuleGraphTests {
    /// posturectl's operator half, linked into postured, is the client generated from openapi.yaml; the
    /// agent must still not load full Foundation (and ICU's 30 MB of data with it): only FoundationEssentials.
    /// The generated code imports FoundationEssentials (packaging/dev/openapi.sh) and swift-openapi-runtime is
    /// built without its FullFoundation trait (Package.swift).
    @Test(Requirement.available(programs: ["ldd"]))
    func theAgentLinksTheGeneratedClientWithoutFoundation() throws {
        let agent = try symbols(CollectorHarness.agentBinary, modules: ["PostureAPI", "OpenAPIRuntime"])
        #expect(agent["PostureAPI", default: 0] > 0, "postured does not link the generated client")
        let libraries = try Shell.run(["ldd", CollectorHarness.agentBinary]).stdout
        #expect(!libraries.contains("libFoundation.so"), "\(libraries)")
        #expect(!libraries.contains("libFoundationInternationalization"), "\(libraries)")
        #expect(!libraries.contains("icu"), "\(libraries)")
        let table = try Shell.run(["nm", CollectorHarness.agentBinary], timeout: 120).stdout
        #expect(!table.contains("icudt"), "postured links ICU's data")
    }
}

extension ModuleGraphTests {
    /// The same from the manifest (`swift package dump-package`, which reads it without resolving anything,
    /// under a scratch path of its own so it does not wait for the `swift test` running it): what each
    /// executable and each half of posturectl may reach, target by target.
    @Test(Requirement.available(programs: ["swift"]))
    func theManifestGivesEachModuleOnlyWhatItsJobNeeds() throws {
        let scratch = try Paths.temporaryDirectory("dump-package").path
        let manifest = try Shell.run(
            [
                "swift", "package", "--package-path", Paths.packageRoot.path, "--scratch-path", scratch,
                "dump-package",
            ], timeout: 120
        ).stdout
        struct Package: Decodable {
            struct Target: Decodable {
                struct Dependency: Decodable {
                    var byName: [String?]?
                    var target: [String?]?
                }
                var name: String
                var dependencies: [Dependency]
            }
            var targets: [Target]
        }
        let targets = try JSONDecoder().decode(Package.self, from: Data(manifest.utf8)).targets
        let local = Set(targets.map(\.name))
        let dependencies = targets.map { target in
            (
                target.name,
                target.dependencies.compactMap { ($0.byName ?? $0.target)?.first ?? nil }.filter(local.contains)
            )
        }
        let direct = Dictionary(uniqueKeysWithValues: dependencies)
        func reach(_ name: String) -> Set<String> {
            var seen: Set<String> = []
            var queue = direct[name] ?? []
            while let next = queue.popLast() {
                if seen.insert(next).inserted { queue += direct[next] ?? [] }
            }
            return seen
        }
        let agentOnly: Set = ["PostureAgent", "PostureAgentState", "PostureProbes", "PostureLinux", "PostureControl"]
        #expect(reach("posture-collector").isDisjoint(with: agentOnly), "\(reach("posture-collector"))")
        // posturectl's endpoint half reads the agent's state, not the agent; its operator half is a client.
        #expect(reach("PostureControl").isDisjoint(with: ["PostureAgent", "PostureProbes", "PostureLinux"]))
        #expect(reach("PostureControl").contains("PostureAgentState"))
        #expect(
            reach("PostureOperator") == [
                "PostureAPI", "PostureClient", "PostureModel", "PostureSystem",
            ])
        // The generated contract is what both sides build on.
        #expect(reach("PostureCollector").contains("PostureAPI") && reach("PostureOperator").contains("PostureAPI"))
    }
}
