import PostureAgent
import PostureModel
import Testing

/// /etc/posture/agent.yaml, read without Foundation: the shipped file is valid and says what the package
/// has always done (dry-run, 60 s), every form a key may take is read, and anything else names the file,
/// line and key.
@Suite struct AgentConfigurationTests {
    static let shipped = #filePath.replacingOccurrences(
        of: "Tests/PostureAgentTests/AgentConfigurationTests.swift", with: "etc/posture/agent.yaml")

    @Test func theShippedFileIsValidAndDocumentsEveryKey() throws {
        let configuration = try AgentConfiguration.load(Self.shipped)
        var expected = AgentConfiguration()
        expected.enforcement.mode = .dryRun
        expected.access.socket = AccessOptions.defaultSocket
        expected.access.sudoersDirectory = "/etc/sudoers.d"
        #expect(configuration == expected)
        // Every key the reader knows is in the shipped file, each after its comment.
        let text = try String(contentsOfFile: Self.shipped, encoding: .utf8)
        let document = try ConfigurationText(text)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for (key, line) in document.keys {
            #expect(lines[line - 2].drop(while: { $0 == " " }).hasPrefix("#"), "\(key) has no comment above it")
        }
        #expect(Set(document.keys.map(\.key)).count == 21)
    }

    @Test func aFileNamedOnPurposeMustExist() throws {
        // Only the default path may be missing: a path given on purpose must exist.
        #expect(throws: AgentConfiguration.Refusal.self) { try AgentConfiguration.load("/nonexistent/agent.yaml") }
    }

    @Test func listsAndQuotedValuesAreRead() throws {
        let text = """
            interval: "30s"   # quoted, with a comment
            enforcement:
              mode: enforce
              exemptUsers:
                - alice
                - 'bob'
              exemptGroups: [wheel, ops]
              keepSessions: true
              keepVerdictFor: 1d
            logLevel: debug
            """
        let configuration = try AgentConfiguration.parse(text, file: "a.yaml")
        #expect(configuration.interval == .seconds(30))
        #expect(configuration.logLevel == "debug")
        #expect(configuration.enforcement.mode == .enforce)
        #expect(configuration.enforcement.exemptUsers == ["root", "alice", "bob"])
        #expect(configuration.enforcement.exemptGroups == ["wheel", "ops"])
        #expect(configuration.enforcement.terminateSessions == false)
        #expect(configuration.enforcement.keepLastVerdictFor == .seconds(86400))
    }

    @Test(arguments: [
        ("interval: 60s\nintervall: 5s\n", "a.yaml:2: unknown key intervall"),
        ("enforcement:\n  mode: always\n", "a.yaml:2: enforcement.mode: 'always' is not one of off, dry-run, enforce"),
        ("interval: 1s\n", "a.yaml:1: interval: '1s': a duration from 10s to 86400s"),
        ("spoolCapacity: lots\n", "a.yaml:1: spoolCapacity: 'lots': a whole number from 10 to 1000000"),
        ("enforcement:\n  keepSessions: yes\n", "a.yaml:2: enforcement.keepSessions: 'yes': write true or false"),
        ("enforcement:\n\tmode: off\n", "a.yaml:2: a tab: indent with spaces"),
        ("interval: 60s\ninterval: 30s\n", "a.yaml:2: interval is set twice"),
        ("  mode: off\n", "a.yaml:1: mode: indented under no section"),
        ("enforcement:\n  mode: off\n   offline: open\n", "a.yaml:3: offline: indented under no section, or not as"),
        ("- alice\n", "a.yaml:1: a list item without a key above it"),
        ("interval 60s\n", "a.yaml:1: 'interval 60s' is not `key: value`"),
        ("logLevel: [info]\n", "a.yaml:1: logLevel: a single value, not a list"),
        ("access:\n  socket: access.sock\n", "a.yaml:2: access.socket: 'access.sock' is not an absolute path"),
        ("access:\n  krlRefresh: 0s\n", "a.yaml:2: access.krlRefresh: '0s': a duration from 1s to 3600s"),
        (
            "enrollmentConfig: enrollment.conf\n",
            "a.yaml:1: enrollmentConfig: 'enrollment.conf' is not an absolute path"
        ),
        ("interval: \"60s\n", "a.yaml:1: \"60s: an unterminated quoted value"),
        ("enforcement:\n  exemptUsers: [alice\n", "a.yaml:2: a list must end with ]"),
        ("interval: &anchor 60s\n", "a.yaml:1: '&anchor 60s' is not a plain value; quote it"),
    ])
    func aBrokenFileNamesTheLineAndTheKey(text: String, message: String) {
        #expect {
            try AgentConfiguration.parse(text, file: "a.yaml")
        } throws: { error in
            String(describing: error).hasPrefix(message)
        }
    }
}
