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
