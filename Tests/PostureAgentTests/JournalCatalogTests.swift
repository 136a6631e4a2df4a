import Foundation
import Logging
import PostureAgent
import PostureModel
import SystemdJournal
import TestSupport
import Testing

/// Every refusal and lifecycle event reaches the journal with a stable MESSAGE_ID that `journalctl -x`
/// explains, from one catalog that the shipped file matches.
@Suite struct JournalCatalogTests {
    @Test func everyRefusalCodeAndEnforcementRecordHasACatalogEntry() {
        let ids = Set(JournalCatalog.entries.map(\.id))
        #expect(ids.count == JournalCatalog.entries.count, "MESSAGE_IDs are unique")
        #expect(JournalCatalog.entries.allSatisfy { $0.id.count == 32 && $0.id.allSatisfy(\.isHexDigit) })
        for code in AttestationRefusal.Code.all {
            #expect(JournalCatalog.messageID(code: code.rawValue, event: nil) != nil, "no catalog entry for \(code)")
        }
        for id in [
            Enforcer.MessageID.decision, Enforcer.MessageID.loginsBlocked, Enforcer.MessageID.sessionTerminated,
            Enforcer.MessageID.restored, Enforcer.MessageID.actionFailed, Enforcer.MessageID.usersNotified,
        ] {
            #expect(ids.contains(id), "enforcement MESSAGE_ID \(id) is not in the catalog")
        }
    }

    @Test func theShippedCatalogIsTheGeneratedOneAndEveryCodeIsDocumented() throws {
        let shipped = try String(
            contentsOf: Paths.packageRoot.appendingPathComponent("packaging/systemd/posture.catalog"), encoding: .utf8)
        #expect(
            shipped == JournalCatalog.render(),
            "regenerate it: .build/debug/posture-collector journal-catalog > packaging/systemd/posture.catalog")
        let protocolText = try String(
            contentsOf: Paths.packageRoot.appendingPathComponent("Sources/PostureCollector/PROTOCOL.md"),
            encoding: .utf8)
        for code in AttestationRefusal.Code.all {
            #expect(protocolText.contains("`\(code.rawValue)`"), "PROTOCOL.md does not list \(code)")
        }
    }

    @Test func entriesCarryPriorityMessageIDAndPostureFields() {
        let handler = JournalLogHandler(identifier: "posture-collector", label: "test")
        func fields(_ level: Logger.Level, _ metadata: Logger.Metadata) -> [String: String] {
            Dictionary(
                handler.fields(level: level, message: "m", metadata: metadata, file: "f", function: "g", line: 1)
                    .map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
        }
        let refusal = fields(.warning, ["posture.code": "bad_signature", "posture.device": "d-1"])
        #expect(refusal["PRIORITY"] == "4")
        #expect(refusal["MESSAGE_ID"] == "1459f11d96ef4408b8171a0174317436")
        #expect(refusal["POSTURE_CODE"] == "bad_signature" && refusal["POSTURE_DEVICE"] == "d-1")
        #expect(refusal["SYSLOG_IDENTIFIER"] == "posture-collector")
        // An event's ID wins over the code it carries; an uncatalogued line has none.
        let rejected = fields(.error, ["posture.event": "report-rejected", "posture.code": "malformed_payload"])
        #expect(rejected["MESSAGE_ID"] == "5fe9730e50bb472b915f3a0b7022029f" && rejected["PRIORITY"] == "3")
        #expect(fields(.info, ["posture.x-y": "1"])["MESSAGE_ID"] == nil)
        #expect(fields(.info, ["posture.x-y": "1"])["POSTURE_X_Y"] == "1")
        #expect(fields(.debug, [:])["PRIORITY"] == "7" && fields(.critical, [:])["PRIORITY"] == "2")
    }
}
