import Crypto
import Foundation
import PostureModel
import Testing

/// What a hostile device can put in a validly signed attestation: one reading of the JSON, and every
/// value in its documented range (SCHEMA.md, "Ranges"), or a refusal naming the field.
@Suite struct HostileInputTests {
    let key = SoftwareSigningKey(P256.Signing.PrivateKey())

    func problem(_ json: String) -> String? {
        do {
            try StrictJSON.check(Array(json.utf8))
            return nil
        } catch {
            return error.description
        }
    }

    @Test func duplicateMemberNamesAreRefusedWhereverTheyAre() {
        #expect(problem(#"{"sequence":1,"sequence":2}"#)?.contains("duplicate member name \"sequence\"") == true)
        // The same name spelled with an escape is the same name to every reader.
        #expect(problem(#"{"a":1,"\u0061":2}"#)?.contains("duplicate") == true)
        #expect(problem(#"{"report":{"os":{"x":1,"x":1}}}"#) == "duplicate member name \"x\" at report.os")
        #expect(problem(#"{"a":[{"b":1},{"b":1,"b":2}]}"#) == "duplicate member name \"b\" at a.[1]")
        // Equal names in different objects are fine, and so is an ordinary report.
        #expect(problem(#"{"a":{"x":1},"b":{"x":1},"c":["\u00e9\ud83d\ude00",-1.5e3,true,null]}"#) == nil)
    }

    @Test func nestingAndSyntaxAreBounded() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(problem(deep)?.contains("nesting deeper than 64") == true)
        #expect(problem(String(repeating: "[", count: 63) + String(repeating: "]", count: 63)) == nil)
        #expect(problem(#"{"a":1} x"#) != nil)
        #expect(problem(#"{"a":"\ud800"}"#) != nil)
        #expect(problem("{\"a\":\"\u{01}\"}") != nil)
        #expect(problem(#"{"a":1"#) != nil)
    }

    func signed(header: String, payload: String) throws -> String {
        let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(payload.utf8))
        let signature = try key.sign(Data(input.utf8))
        return input + "." + Base64URL.encode(signature.rawRepresentation)
    }

    @Test func aJWSWithDuplicateOrCriticalHeaderMembersIsRefused() throws {
        let kid = KeyThumbprint(key.publicKey).value
        let good = try signed(header: #"{"alg":"ES256","kid":"\#(kid)"}"#, payload: "{}")
        #expect(try CompactJWS(parsing: good).verifiedPayload(with: key.publicKey) == Data("{}".utf8))
        let twice = try signed(header: #"{"alg":"ES256","alg":"none","kid":"\#(kid)"}"#, payload: "{}")
        #expect(refusal { _ = try CompactJWS(parsing: twice) } == .malformedJWS)
        let critical = try signed(header: #"{"alg":"ES256","crit":["exp"],"exp":1,"kid":"\#(kid)"}"#, payload: "{}")
        #expect(refusal { _ = try CompactJWS(parsing: critical) } == .malformedJWS)
        let payload = try signed(header: #"{"alg":"ES256","kid":"\#(kid)"}"#, payload: #"{"sequence":1,"sequence":9}"#)
        #expect(
            refusal { _ = try CompactJWS(parsing: payload).verifiedPayload(with: key.publicKey) } == .malformedPayload)
    }

    @Test func machineIDsAreExactlyMachineIDFive() {
        #expect(DeviceIdentity.isMachineID("0123456789abcdef0123456789abcdef"))
        #expect(!DeviceIdentity.isMachineID("0123456789ABCDEF0123456789ABCDEF"))
        #expect(!DeviceIdentity.isMachineID("0123456789abcdef0123456789abcdef\n"))
        #expect(!DeviceIdentity.isMachineID("０123456789abcdef0123456789abcde"))
        #expect(!DeviceIdentity.isMachineID("0123456789abcdef0123456789abcdeg"))
    }

    static func payload() -> AttestationPayload {
        let report = PostureReport(
            collectedAt: Date(timeIntervalSince1970: 1_800_000_000), agentVersion: "1.0",
            os: OSFacts(
                osRelease: .observed(["ID": "debian"], source: "/etc/os-release"),
                kernelRelease: .observed("6.1.0", source: "uname"), kernelVersion: .observed("#1", source: "uname"),
                architecture: .observed("x86_64", source: "uname"),
                machineID: .observed(String(repeating: "a", count: 32), source: "/etc/machine-id"),
                bootID: .unavailable(reason: "test", source: "/proc"), uptimeSeconds: .observed(12, source: "/proc"),
                rebootRequired: .observed(RebootRequired(required: false, reasons: []), source: "test")),
            diskEncryption: .observed(
                DiskEncryptionFacts(
                    rootEncrypted: .observed(true, source: "t"), homeEncrypted: nil,
                    allSwapEncrypted: .observed(true, source: "t"), volumes: [],
                    swaps: [
                        SwapArea(
                            path: "/swap", kind: .file, sizeKiB: 1024, devices: [], encrypted: true, encryption: [])
                    ]), source: "t"),
            firewall: FirewallFacts(
                nftables: .observed(
                    NftablesRuleset(tables: [
                        NftTable(
                            family: "inet", name: "filter",
                            chains: [
                                NftChain(
                                    name: "input", type: "filter", hook: "input", priority: 0, policy: "drop",
                                    ruleCount: 3)
                            ])
                    ]), source: "t"),
                iptablesLegacy: .unavailable(reason: "t", source: "t"),
                inboundFiltered: .unavailable(reason: "t", source: "t"),
                activeFrameworks: .observed(["nftables"], source: "t")),
            journal: .observed(
                JournalFacts(
                    journal: "system", afterCursor: nil, since: nil, cursor: nil, entriesExamined: 2,
                    counts: [.sshAuthFailure: 2], notable: [], notableOmitted: 0), source: "t"),
            secureBoot: .unavailable(reason: "t", source: "t"), kernelLockdown: .unavailable(reason: "t", source: "t"),
            securityModules: .unavailable(reason: "t", source: "t"), sshd: .unavailable(reason: "t", source: "t"))
        return AttestationPayload(
            deviceID: "d1", sequence: 1, issuedAt: Date(timeIntervalSince1970: 1_800_000_000), nonce: "n",
            report: report)
    }

    func refused(_ change: (inout AttestationPayload) -> Void) -> String? {
        var payload = Self.payload()
        change(&payload)
        do {
            try PayloadLimits.check(payload)
            return nil
        } catch {
            #expect(error.code == .malformedPayload)
            return error.message
        }
    }

    @Test func everyExtremeValueIsRefusedNamingItsField() {
        #expect(refused { _ in } == nil)
        #expect(refused { $0.sequence = UInt64.max }?.hasPrefix("sequence is 18446744073709551615") == true)
        #expect(refused { $0.sequence = 0 }?.hasPrefix("sequence") == true)
        #expect(refused { $0.spoolGap = SpoolGap(firstSequence: 5, lastSequence: 2, count: 1) } != nil)
        // Standing sudo: bounded like every other fact, absent accepted (an agent that predates it).
        let sudo = SudoFacts(
            installed: true, standingUsers: ["alice"], rules: [SudoRuleFact(who: "%sudo", at: "/etc/sudoers:50")],
            postureGrants: 0, files: ["/etc/sudoers"])
        #expect(refused { $0.report.sudo = .observed(sudo, source: "t") } == nil)
        #expect(
            refused { payload in
                var many = sudo
                many.standingUsers = (0..<1025).map { "u\($0)" }
                payload.report.sudo = .observed(many, source: "t")
            }?.hasPrefix("report.sudo.value.standingUsers has 1025 elements") == true)
        #expect(
            refused { payload in
                var long = sudo
                long.rules[0].who = String(repeating: "a", count: 257)
                payload.report.sudo = .observed(long, source: "t")
            }?.hasPrefix("report.sudo.value.rules.who is 257 bytes long") == true)
        #expect(
            refused { payload in
                var negative = sudo
                negative.postureGrants = -1
                payload.report.sudo = .observed(negative, source: "t")
            }?.hasPrefix("report.sudo.value.postureGrants is -1") == true)
        // Patch level: bounded like every other fact, absent accepted (an agent that predates it).
        let update = PendingUpdate(
            package: "openssl", architecture: "amd64", installed: "3.0.15-1~deb12u1", candidate: "3.0.17-1~deb12u2",
            origin: "Debian-Security bookworm-security", since: Date(timeIntervalSince1970: 1_800_000_000))
        let updates = PackageUpdates(
            manager: "dpkg", installed: 400, listsUpdatedAt: nil, pending: 3, pendingSecurity: 1, security: [update],
            lastChange: nil, securityArchives: ["Debian-Security bookworm-security"])
        func patches(_ packages: PackageUpdates) -> PatchFacts {
            PatchFacts(packages: .observed(packages, source: "t"), kernel: .unavailable(reason: "none", source: "t"))
        }
        #expect(refused { $0.report.patches = patches(updates) } == nil)
        #expect(
            refused { payload in
                var many = updates
                many.security = Array(repeating: update, count: 1025)
                payload.report.patches = patches(many)
            }?.hasPrefix("report.patches.packages.value.security has 1025 elements") == true)
        #expect(
            refused { payload in
                var negative = updates
                negative.pending = -1
                payload.report.patches = patches(negative)
            }?.hasPrefix("report.patches.packages.value.pending is -1") == true)
        #expect(
            refused { payload in
                var long = updates
                long.security[0].candidate = String(repeating: "9", count: 257)
                payload.report.patches = patches(long)
            }?.hasPrefix("report.patches.packages.value.security.candidate is 257 bytes long") == true)
        #expect(
            refused { payload in
                var early = updates
                early.security[0].since = Date(timeIntervalSince1970: -1)
                payload.report.patches = patches(early)
            }?.hasPrefix("report.patches.packages.value.security.since") == true)
        // Sessions: bounded too.
        let session = LoginSessionFacts(
            id: "2", user: "alice", uid: 1000, type: "wayland", sessionClass: "user", remote: false, remoteHost: nil,
            service: "gdm-password", desktop: "GNOME", active: true, idle: true,
            idleSince: Date(timeIntervalSince1970: 1_800_000_000), locked: .unlocked, since: nil)
        func sessions(_ list: [LoginSessionFacts], total: Int? = nil) -> Fact<SessionFacts> {
            .observed(SessionFacts(sessions: list, total: total ?? list.count), source: "t")
        }
        #expect(refused { $0.report.sessions = sessions([session]) } == nil)
        #expect(
            refused { $0.report.sessions = sessions(Array(repeating: session, count: 257)) }?
                .hasPrefix("report.sessions.value.sessions has 257 elements") == true)
        #expect(
            refused { $0.report.sessions = sessions([session], total: -1) }?
                .hasPrefix("report.sessions.value.total is -1") == true)
        #expect(
            refused { payload in
                var long = session
                long.desktop = String(repeating: "x", count: 257)
                payload.report.sessions = sessions([long])
            }?.hasPrefix("report.sessions.value.sessions.desktop is 257 bytes long") == true)
        #expect(
            refused { payload in
                var early = session
                early.idleSince = Date(timeIntervalSince1970: -1)
                payload.report.sessions = sessions([early])
            }?.hasPrefix("report.sessions.value.sessions.idleSince") == true)
        #expect(refused { $0.spoolGap = SpoolGap(firstSequence: 1, lastSequence: 2, count: .max) } != nil)
        #expect(refused { $0.issuedAt = Date(timeIntervalSince1970: -1) }?.hasPrefix("issuedAt") == true)
        #expect(
            refused { $0.report.os.uptimeSeconds = .observed(.infinity, source: "t") }?
                .hasPrefix("report.os.uptimeSeconds.value") == true)
        #expect(refused { $0.report.os.uptimeSeconds = .observed(1e300, source: "t") } != nil)
        #expect(
            refused { payload in
                var journal = payload.report.journal.value!
                journal.counts[.sshAuthFailure] = Int.max
                payload.report.journal = .observed(journal, source: "t")
            }?.hasPrefix("report.journal.value.counts.sshAuthFailure is 9223372036854775807") == true)
        #expect(
            refused { payload in
                var disk = payload.report.diskEncryption.value!
                disk.swaps[0].sizeKiB = -1
                payload.report.diskEncryption = .observed(disk, source: "t")
            }?.hasPrefix("report.diskEncryption.value.swaps[0].sizeKiB is -1") == true)
        #expect(
            refused { payload in
                var ruleset = payload.report.firewall.nftables.value!
                ruleset.tables[0].chains[0].ruleCount = Int.max
                ruleset.tables[0].chains[0].priority = Int.min
                payload.report.firewall.nftables = .observed(ruleset, source: "t")
            }?.contains("chains[0].priority") == true)
        #expect(
            refused { $0.report.agentVersion = String(repeating: "x", count: 10_000) }?
                .hasPrefix("report.agentVersion is 10000 bytes long") == true)
        #expect(
            refused { payload in
                var device = BlockDevice(name: "loop0", number: "7:0", kind: .loop)
                for _ in 0..<20 {
                    device = BlockDevice(name: "dm", number: "254:0", kind: .deviceMapper, lower: [device])
                }
                var disk = payload.report.diskEncryption.value!
                disk.swaps[0].devices = [device]
                payload.report.diskEncryption = .observed(disk, source: "t")
            }?.contains("deeper than 16") == true)
    }

    @Test func arithmeticOnDeviceNumbersSaturates() {
        #expect(Int.max.saturatingAdd(1) == Int.max)
        #expect(Int.min.saturatingAdd(-1) == Int.min)
        #expect(Int.max.saturatingMultiply(2) == Int.max)
        #expect(Int.min.saturatingMultiply(2) == Int.min)
        #expect([Int.max, Int.max, 5].saturatingSum() == Int.max)
        #expect(Double.infinity.saturatingInt == Int.max)
        #expect((-1e300).saturatingInt == Int.min)
        #expect(Double.nan.saturatingInt == 0)
        #expect(12.9.saturatingInt == 12)
        // The table renders what a report says, even a report no collector would accept.
        var payload = Self.payload()
        payload.report.os.uptimeSeconds = .observed(1e300, source: "t")
        var ruleset = payload.report.firewall.nftables.value!
        ruleset.tables[0].chains[0].ruleCount = Int.max
        ruleset.tables.append(ruleset.tables[0])
        payload.report.firewall.nftables = .observed(ruleset, source: "t")
        let table = ReportTable.render(payload.report)
        #expect(table.contains("\(Int.max) rules"))
        #expect(Timestamp(microsecondsSinceEpoch: .max).description == "9999-12-31T23:59:59.999999Z")
        #expect(Timestamp(microsecondsSinceEpoch: .min).description == "0000-01-01T00:00:00.000000Z")
    }
}
