import PostureAgent
import PostureModel
import Testing

/// /etc/posture/enrollment.conf: the shipped template means "wait", a filled one enrolls, and a broken
/// one names the file, line and key.
@Suite struct EnrollmentConfigTests {
    let pin = "sha256:" + String(repeating: "ab", count: 32)

    @Test func theShippedTemplateSetsNothing() throws {
        let template = try String(
            contentsOfFile: #filePath.replacingOccurrences(
                of: "Tests/PostureAgentTests/EnrollmentConfigTests.swift", with: "packaging/agent/enrollment.conf"),
            encoding: .utf8)
        #expect(template.contains("#collector = "))
        #expect(try EnrollmentConfig.parse(template, file: "enrollment.conf") == nil)
    }

    @Test func aFilledFileGivesTheThreeValues() throws {
        let text =
            "# comment\n  collector = https://collector.example.org:8443  \n\ntoken=abc.def\nca-fingerprint = \(pin)\n"
        let config = try #require(try EnrollmentConfig.parse(text, file: "f"))
        #expect(config.collector == "https://collector.example.org:8443")
        #expect(config.token == "abc.def")
        #expect(config.caFingerprint == CAFingerprint(parsing: pin))
    }

    @Test(arguments: [
        ("collector = https://c:8443\ntoken = t\nca-fingerprnt = x\n", "f:3: unknown key 'ca-fingerprnt'"),
        ("collector = https://c:8443\ntoken = t\n", "f: 'ca-fingerprint' is missing"),
        ("collector https://c:8443\n", "f:1: expected `key = value`"),
        ("collector = http://c:8443\ntoken = t\nca-fingerprint = sha256:00\n", "f: collector must be an https:// URL"),
        ("collector = https://c:8443\ntoken = t\nca-fingerprint = sha256:00\n", "f: ca-fingerprint must be sha256:"),
    ])
    func aBrokenFileNamesWhatToFix(text: String, message: String) {
        #expect {
            try EnrollmentConfig.parse(text, file: "f")
        } throws: { error in
            String(describing: error).hasPrefix(message)
        }
    }
}
