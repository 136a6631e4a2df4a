import Foundation
import PostureLinux
import PostureModel
import TestSupport
import Testing

@testable import PostureProbes

@Suite struct OSProbeTests {
    /// Debian's own Python: `platform.freedesktop_os_release()` is the independent os-release parser.
    static let python = Shell.has("/usr/bin/python3") ? "/usr/bin/python3" : "python3"

    @Test(Requirement.available(programs: ["uname", python]))
    func liveHostAgreesWithUnameAndPython() throws {
        // /proc/uptime read just before and after the probe bound what the probe may say (a busy CI
        // machine can take many seconds between the probe and the later checks).
        func procUptime() throws -> Double {
            let text = try String(contentsOfFile: "/proc/uptime", encoding: .utf8)
            return try #require(Double(text.split(separator: " ").first ?? ""))
        }
        let uptimeBefore = try procUptime()
        let facts = OSProbe().collect(in: ProbeContext(now: Date()))
        let uptimeAfter = try procUptime()
        #expect(facts.kernelRelease.value == (try Shell.run(["uname", "-r"]).stdout.trimmed))
        #expect(facts.kernelVersion.value == (try Shell.run(["uname", "-v"]).stdout.trimmed))
        #expect(facts.architecture.value == (try Shell.run(["uname", "-m"]).stdout.trimmed))

        let script = "import json, platform; print(json.dumps(platform.freedesktop_os_release()))"
        let output = try Shell.run([Self.python, "-c", script]).stdout
        let expected = try JSONDecoder().decode([String: String].self, from: Data(output.utf8))
        #expect(facts.osRelease.value == expected)

        if let machineID = try? String(contentsOfFile: "/etc/machine-id", encoding: .utf8) {
            #expect(facts.machineID.value == machineID.trimmed)
        }
        let bootID = try String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)
        #expect(facts.bootID.value == bootID.trimmed)
        let uptime = try #require(facts.uptimeSeconds.value)
        #expect(uptime >= uptimeBefore - 1 && uptime <= uptimeAfter + 1, "\(uptimeBefore) ≤ \(uptime) ≤ \(uptimeAfter)")
        #expect(facts.rebootRequired.value != nil)
    }

    @Test(Requirement.available(programs: [python]))
    func osReleaseQuotingMatchesPython() throws {
        let root = try Paths.temporaryDirectory("osrelease")
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("etc"), withIntermediateDirectories: true)
        let text = """
            # a comment
            NAME="Fancy \\"Quoted\\" Linux"
            ID=fancy
            ID_LIKE='debian ubuntu'
            VERSION_ID="24.04"
            PRETTY_NAME="Fancy Linux 24.04 \\$dollar \\\\ backslash"
            EMPTY=
            """
        let file = root.appendingPathComponent("etc/os-release")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let facts = OSProbe().collect(in: ProbeContext(root: HostRoot(root.path), now: Date()))
        let script = """
            import json, platform, sys
            print(json.dumps(platform._parse_os_release(open(sys.argv[1]))))
            """
        let output = try Shell.run([Self.python, "-c", script, file.path]).stdout
        var expected = try JSONDecoder().decode([String: String].self, from: Data(output.utf8))
        // Python's parser adds ID=linux and NAME=Linux defaults only when absent; both are present here.
        expected = expected.filter { $0.key != "ID" || $0.value == "fancy" }
        #expect(facts.osRelease.value == expected)
        #expect(facts.osRelease.source == "/etc/os-release")
    }

    @Test func fallsBackToUsrLibOsRelease() throws {
        let root = try Paths.temporaryDirectory("osrelease-usr")
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("usr/lib"), withIntermediateDirectories: true)
        try "ID=fallback\n".write(
            to: root.appendingPathComponent("usr/lib/os-release"), atomically: true, encoding: .utf8)
        let facts = OSProbe().collect(in: ProbeContext(root: HostRoot(root.path), now: Date()))
        #expect(facts.osRelease == .observed(["ID": "fallback"], source: "/usr/lib/os-release"))
        // Nothing else exists in this tree: every other fact says why it is unknown.
        #expect(facts.machineID.unavailableReason?.contains("machine-id") == true)
        #expect(facts.kernelRelease.unavailableReason?.contains("osrelease") == true)
    }

    @Test func rebootRequiredByFlagFileAndByNewerKernel() throws {
        let root = try Paths.temporaryDirectory("reboot")
        let fm = FileManager.default
        for directory in ["run", "proc/sys/kernel", "lib/modules/6.1.0-25-amd64", "lib/modules/6.1.0-27-amd64"] {
            try fm.createDirectory(at: root.appendingPathComponent(directory), withIntermediateDirectories: true)
        }
        try "6.1.0-25-amd64\n".write(
            to: root.appendingPathComponent("proc/sys/kernel/osrelease"), atomically: true, encoding: .utf8)
        for release in ["6.1.0-25-amd64", "6.1.0-27-amd64"] {
            try "".write(
                to: root.appendingPathComponent("lib/modules/\(release)/modules.dep"), atomically: true, encoding: .utf8
            )
        }
        var facts = OSProbe().collect(in: ProbeContext(root: HostRoot(root.path), now: Date()))
        #expect(
            facts.rebootRequired.value
                == RebootRequired(
                    required: true, reasons: ["kernel 6.1.0-27-amd64 is installed but 6.1.0-25-amd64 is running"]))

        try fm.removeItem(at: root.appendingPathComponent("lib/modules/6.1.0-27-amd64"))
        facts = OSProbe().collect(in: ProbeContext(root: HostRoot(root.path), now: Date()))
        #expect(facts.rebootRequired.value == RebootRequired(required: false, reasons: []))

        try "".write(to: root.appendingPathComponent("run/reboot-required"), atomically: true, encoding: .utf8)
        try "libc6\nlibc6\nlinux-image-amd64\n".write(
            to: root.appendingPathComponent("run/reboot-required.pkgs"), atomically: true, encoding: .utf8)
        facts = OSProbe().collect(in: ProbeContext(root: HostRoot(root.path), now: Date()))
        #expect(
            facts.rebootRequired.value?.reasons == ["/run/reboot-required exists (packages: libc6, linux-image-amd64)"])
    }

    @Test func kernelReleasesOrderNumerically() {
        #expect(KernelRelease.isOrderedBefore("6.1.0-9-amd64", "6.1.0-27-amd64"))
        #expect(!KernelRelease.isOrderedBefore("6.10.0-1-amd64", "6.9.0-1-amd64"))
    }
}

extension String {
    var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
