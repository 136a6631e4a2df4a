import Foundation
import PostureModel
import TestSupport
import Testing

@testable import PostureAgent

/// The drop-ins time-bound sudo is carried in, checked by the real `visudo`: what it accepts is installed
/// under the grant's name and deadline; what it refuses never reaches the directory.
@Suite(Requirement.available(programs: ["/usr/sbin/visudo"]))
struct SudoersDropInsTests {
    static func grant(_ id: Int64, commands: [String], until: Date) -> SudoGrantState {
        SudoGrantState(
            id: id, grant: "deploy", user: "bob", status: .active, commands: commands, requestedAt: until, seconds: 60,
            validFrom: until.addingTimeInterval(-60), validUntil: until, reason: "change 7")
    }

    @Test func aValidDropInIsInstalledUnderItsDeadlineAndCarriesNotAfter() async throws {
        let directory = try Paths.temporaryDirectory("sudoers").path
        let dropIns = SudoersDropIns(directory: directory, visudo: "/usr/sbin/visudo")
        let until = Date(timeIntervalSince1970: 1_796_000_000)
        let installed = try await dropIns.install(
            Self.grant(7, commands: ["/usr/bin/systemctl restart nginx", "/usr/bin/id"], until: until), uid: 1234)
        #expect(installed.path == "\(directory)/posture-grant-7-1796000000")
        #expect(dropIns.installed() == [installed])
        let text = try String(contentsOfFile: installed.path, encoding: .utf8)
        #expect(
            text.contains(
                "#1234 ALL=(ALL:ALL) NOTAFTER=20261130005320Z NOPASSWD: /usr/bin/systemctl restart nginx, /usr/bin/id\n"
            ))
        let mode = try FileManager.default.attributesOfItem(atPath: installed.path)[.posixPermissions] as? Int
        #expect(mode == 0o440)
        // Only what it wrote is named as installed; its staging file never is.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["posture-grant-7-1796000000"])
        try dropIns.remove(installed)
        #expect(dropIns.installed().isEmpty)
    }

    @Test func aDropInVisudoRefusesIsNeverInstalled() async throws {
        let directory = try Paths.temporaryDirectory("sudoers-bad").path
        try "keep me\n".write(toFile: directory + "/README", atomically: true, encoding: .utf8)
        let dropIns = SudoersDropIns(directory: directory, visudo: "/usr/sbin/visudo")
        // A command sudoers cannot parse though it looks plain: visudo refuses it, nothing is installed.
        let broken = Self.grant(8, commands: ["/usr/bin/id ^"], until: Date().addingTimeInterval(600))
        await #expect { try await dropIns.install(broken, uid: 1234) } throws: { error in
            "\(error)".contains("visudo -cf refused the drop-in for sudo grant 8")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["README"])
        // Sudoers syntax, or a second rule, in a command: refused before visudo (the policy refuses it too).
        for command in ["/usr/bin/id, /bin/sh", "/usr/bin/id\nALL ALL=(ALL) ALL", "ALL ALL", "bin/sh", ""] {
            let injected = Self.grant(9, commands: [command], until: Date().addingTimeInterval(600))
            await #expect(throws: SudoersError.self) { try await dropIns.install(injected, uid: 1234) }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["README"])
        // Names in the comment cannot end it early.
        var named = Self.grant(10, commands: ["/usr/bin/id"], until: Date().addingTimeInterval(600))
        named.user = "bob\nALL ALL=(ALL) NOPASSWD: ALL"
        let text = SudoersDropIns.text(named, uid: 1234, deadline: 1_796_000_000)
        #expect(text.split(separator: "\n").filter { !$0.hasPrefix("# ") }.count == 1, "\(text)")
        // And a missing visudo installs nothing either.
        let noVisudo = SudoersDropIns(directory: directory, visudo: "/nonexistent/visudo")
        await #expect(throws: SudoersError.self) {
            try await noVisudo.install(Self.grant(9, commands: ["/usr/bin/id"], until: Date()), uid: 1)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["README"])
    }

    @Test func namesThatAreNotItsOwnAreLeftAlone() throws {
        let directory = try Paths.temporaryDirectory("sudoers-names").path
        for name in [
            "posture-grant-1-100", "posture-grant-x-100", "posture-grant-2", "admins", ".posture-grant-3.check",
        ] {
            try "".write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
        }
        let dropIns = SudoersDropIns(directory: directory, visudo: "/usr/sbin/visudo")
        #expect(dropIns.installed().map(\.id) == [1])
        #expect(dropIns.installed().map(\.deadline) == [100])
    }
}
