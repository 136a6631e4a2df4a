import Glibc
import PostureLinux
import PostureModel
import PostureProbes

// posture-bench: measures a full probe cycle and `postured probe`, and, in the same run, the reference
// it is compared with (packaging/bench/reference-probe.sh: the same facts with lsblk, nft, journalctl,
// jq and openssl). Prints numbers; asserts nothing. Run as root (nftables needs CAP_NET_ADMIN):
//   swift build -c release && .build/release/posture-bench [--cycles N] [--runs N]
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

struct Options {
    var cycles = 200
    var runs = 20
    var entries = 1000
    /// The `postured` to measure; default: the one built next to this benchmark.
    var postured: String?

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            let text = iterator.next()
            let value = text.flatMap(Int.init)
            switch argument {
            case "--postured": postured = text
            case "--cycles": cycles = value ?? cycles
            case "--runs": runs = value ?? runs
            case "--entries": entries = value ?? entries
            default:
                print("usage: posture-bench [--cycles N] [--runs N] [--entries N] [--postured PATH]")
                exit(64)
            }
        }
    }
}

/// Process CPU time (user + system) in seconds.
func cpuSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

func wallSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

struct ChildUsage {
    var status: Int32
    var wall: Double
    var cpu: Double
    var maxRSSKiB: Int
}

/// Spawns a program, waits for it, and returns its resource usage (it and its reaped descendants).
func spawnMeasured(_ arguments: [String], stdin: String? = nil, quiet: Bool = true) -> ChildUsage {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    var inputPipe: [Int32] = [-1, -1]
    if stdin != nil {
        pipe(&inputPipe)
        posix_spawn_file_actions_adddup2(&actions, inputPipe[0], 0)
        posix_spawn_file_actions_addclose(&actions, inputPipe[1])
    }
    if quiet { posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0) }
    let argv = arguments.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let start = wallSeconds()
    let result = posix_spawnp(&pid, arguments[0], &actions, nil, argv, environ)
    guard result == 0 else {
        print("cannot run \(arguments[0]): \(String(cString: strerror(result)))")
        exit(69)
    }
    if let stdin {
        close(inputPipe[0])
        _ = stdin.withCString { write(inputPipe[1], $0, strlen($0)) }
        close(inputPipe[1])
    }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
    let wall = wallSeconds() - start
    let cpu =
        Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    return ChildUsage(status: status, wall: wall, cpu: cpu, maxRSSKiB: usage.ru_maxrss)
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
}

func fixed(_ value: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    return digits == 0 ? "\(Int(rounded))" : "\(rounded)"
}

func format(_ milliseconds: Double) -> String { "\(fixed(milliseconds, 2)) ms" }

/// A journal file with `count` old entries, then `count` new ones after a cursor, of which one in
/// `relevantEvery` is security-relevant (the others are cron noise that the journal's index skips).
func makeJournal(in directory: String, count: Int, relevantEvery: Int) -> (file: String, cursor: String) {
    let file = "\(directory)/remote-bench-\(relevantEvery).journal"
    let now = UInt64(Date().timeIntervalSince1970 * 1_000_000)
    func export(_ offset: Int, _ relevant: Bool) -> String {
        var text = ""
        for i in 0..<count {
            let stamp = now - UInt64((2 * count - offset - i) * 1000)
            text += "__REALTIME_TIMESTAMP=\(stamp)\n__MONOTONIC_TIMESTAMP=\(1_000_000 + offset + i)\n"
            text += "_BOOT_ID=0123456789abcdef0123456789abcdef\n"
            if !relevant || i % relevantEvery != 0 {
                text +=
                    "SYSLOG_IDENTIFIER=cron\n_TRANSPORT=syslog\nMESSAGE=(root) CMD (run-parts /etc/cron.hourly) \(i)\n\n"
                continue
            }
            switch i % 4 {
            case 0:
                text +=
                    "SYSLOG_IDENTIFIER=sshd\n_TRANSPORT=syslog\nMESSAGE=Failed password for root from 192.0.2.\(i % 250) port 22 ssh2\n"
            case 1:
                text +=
                    "SYSLOG_IDENTIFIER=sshd\n_TRANSPORT=syslog\nMESSAGE=Invalid user admin\(i) from 198.51.100.7 port 50000\n"
            case 2:
                text +=
                    "SYSLOG_IDENTIFIER=sudo\n_TRANSPORT=syslog\nMESSAGE=alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id\n"
            default:
                text +=
                    "SYSLOG_IDENTIFIER=kernel\n_TRANSPORT=kernel\nMESSAGE=usb 1-\(i): New USB device found, idVendor=0781, idProduct=5567\n"
            }
            text += "\n"
        }
        return text
    }
    let remote = "/lib/systemd/systemd-journal-remote"
    guard spawnMeasured([remote, "-o", file, "-"], stdin: export(0, false)).status == 0,
        spawnMeasured([remote, "-o", file, "-"], stdin: export(count, true)).status == 0
    else {
        print("systemd-journal-remote failed: apt-get install systemd-journal-remote")
        exit(69)
    }
    // The cursor of the last old entry: everything after it is new.
    do {
        let reader = try JournalReader(.files([file]))
        try reader.seek(.head)
        var cursor = ""
        for _ in 0..<count where try reader.next() { cursor = try reader.cursor() }
        return (file, cursor)
    } catch {
        print("cannot read the bench journal: \(error)")
        exit(70)
    }
}

let options = Options(CommandLine.arguments)
guard getuid() == 0 else {
    print("posture-bench: run as root, so the firewall probe reads nftables as the agent does")
    exit(77)
}
let directory = String(cString: mkdtemp(strdup("/tmp/posture-bench-XXXXXX")))
let (journalFile, cursor) = makeJournal(in: directory, count: options.entries, relevantEvery: 1)
let journalOptions = JournalOptions(source: .files([journalFile]), afterCursor: cursor)
let context = ProbeContext(now: Date(), journal: journalOptions)
let typical = makeJournal(in: directory, count: options.entries, relevantEvery: 10)
let typicalContext = ProbeContext(
    now: Date(), journal: JournalOptions(source: .files([typical.file]), afterCursor: typical.cursor))

// Check the cycle sees exactly the new entries before timing it.
let sample = ReportCollector().collect(in: context)
let examined = sample.journal.value?.entriesExamined ?? -1
print(
    "posture-bench: \(options.entries) new journal entries after the cursor (all security-relevant), "
        + "\(options.entries) older ones before it; the cycle examined \(examined), attached "
        + "\(sample.journal.value?.notable.count ?? 0) notable events")

// 1. The in-process cycle: every probe, and the report encoded as JSON.
let encoder = PostureReport.makeEncoder()
for _ in 0..<5 { _ = try encoder.encode(ReportCollector().collect(in: context)) }
var cycleCPU: [Double] = []
var cycleWall: [Double] = []
for _ in 0..<options.cycles {
    let cpu0 = cpuSeconds()
    let wall0 = wallSeconds()
    _ = try encoder.encode(ReportCollector().collect(in: context))
    cycleCPU.append((cpuSeconds() - cpu0) * 1000)
    cycleWall.append((wallSeconds() - wall0) * 1000)
}

var typicalCPU: [Double] = []
for _ in 0..<options.cycles {
    let cpu0 = cpuSeconds()
    _ = try encoder.encode(ReportCollector().collect(in: typicalContext))
    typicalCPU.append((cpuSeconds() - cpu0) * 1000)
}

// Per-probe CPU, to show where a cycle's time goes.
func probeCPU(_ body: () -> Void) -> Double {
    let start = cpuSeconds()
    for _ in 0..<options.cycles { body() }
    return (cpuSeconds() - start) * 1000 / Double(options.cycles)
}
let breakdown: [(String, Double)] = [
    ("os", probeCPU { _ = OSProbe().collect(in: context) }),
    ("disk encryption", probeCPU { _ = DiskEncryptionProbe().collect(in: context) }),
    ("firewall", probeCPU { _ = FirewallProbe().collect(in: context) }),
    ("journal", probeCPU { _ = JournalProbe().collect(in: context) }),
    (
        "secure boot + lockdown + LSM + sshd",
        probeCPU {
            _ = SecureBootProbe().collect(in: context)
            _ = KernelLockdownProbe().collect(in: context)
            _ = SecurityModulesProbe().collect(in: context)
            _ = SSHDProbe().collect(in: context)
        }
    ),
    (
        "patch level, files changed since the last report (dpkg status and apt lists read)",
        probeCPU {
            PatchProbe.forgetCache()
            _ = PatchProbe().collect(in: context)
        }
    ),
    ("patch level, files unchanged (the kept answer)", probeCPU { _ = PatchProbe().collect(in: context) }),
    ("JSON encoding of the report", probeCPU { _ = try? encoder.encode(sample) }),
]

// 2. The whole `postured probe` process, as a user or a timer would run it.
let executable =
    options.postured
    ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("postured")
    .path
var runs: [ChildUsage] = []
for _ in 0..<options.runs {
    runs.append(
        spawnMeasured([
            executable, "probe", "--format", "json", "--journal-file", journalFile, "--journal-cursor", cursor,
        ]))
}

// 3. A running agent (`postured run`) against a real collector built next to it.
let running = RunningAgent.measure(
    postured: executable,
    collector: URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("posture-collector")
        .path, directory: directory, cycles: 10)

// 4. The TPM's share, next to the software key's (swtpm).
let tpmTimings = TPMTimings.measure(directory: directory, samples: 100)

// 5. The reference, in the same run.
let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("packaging/bench/reference-probe.sh").path
let key = "\(directory)/reference-key.pem"
_ = spawnMeasured(["openssl", "ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", key])
var reference: [ChildUsage] = []
for _ in 0..<max(3, options.runs / 2) {
    reference.append(spawnMeasured(["sh", script, journalFile, cursor, key]))
}

print("")
print("in-process probe cycle, report encoded as JSON (\(options.cycles) cycles, median):")
print("  worst case, all \(options.entries) new entries security-relevant:")
print("    CPU   \(format(median(cycleCPU)))   (target ≤ 6 ms)")
print("    wall  \(format(median(cycleWall)))")
print("  typical, 1 in 10 of \(options.entries) new entries security-relevant:")
print("    CPU   \(format(median(typicalCPU)))   (target ≤ 6 ms)")
print("  where the worst case's CPU goes:")
for (name, cpu) in breakdown { print("    \(name): \(format(cpu)) CPU") }
print("\(executable) probe --format json (\(options.runs) runs, median; max RSS is the largest run):")
print("  CPU   \(format(median(runs.map { $0.cpu * 1000 })))")
print("  wall  \(format(median(runs.map { $0.wall * 1000 })))")
print("  RSS   \(fixed(Double(runs.map(\.maxRSSKiB).max() ?? 0) / 1024, 1)) MiB   (target ≤ 15 MiB)")
let failedRuns = runs.filter { $0.status != 0 }.count
if failedRuns > 0 { print("  WARNING: \(failedRuns) runs exited non-zero") }
let referenceOK = reference.allSatisfy { $0.status == 0 }
print(
    "reference: packaging/bench/reference-probe.sh (lsblk, nft, journalctl, jq, openssl; \(reference.count) runs, median):"
)
print(
    "  CPU   \(format(median(reference.map { $0.cpu * 1000 })))\(referenceOK ? "" : "   (WARNING: the script failed; install jq, openssl, nftables)")"
)
print("  wall  \(format(median(reference.map { $0.wall * 1000 })))")
print(
    "  ratio \(fixed(median(reference.map { $0.cpu * 1000 }) / max(median(cycleCPU), 0.001), 0))x the in-process cycle's CPU"
)
if let running {
    print(
        "a running \(executable) (run --interval 1s against posture-collector on this machine, \(running.cycles) cycles):"
    )
    print(
        "  private memory (RssAnon) \(fixed(Double(running.rssAnonKiB) / 1024, 1)) MiB   (target ≤ 8 MiB); RSS \(fixed(Double(running.rssKiB) / 1024, 1)) MiB with shared libraries"
    )
    print(
        "  CPU per cycle \(format(running.cpuPerCycleMs)) (gather, sign, deliver, long-poll open; the in-process typical cycle above: \(format(median(typicalCPU))))"
    )
} else {
    print("a running agent: not measured (posture-collector next to \(executable) did not start or enroll it)")
}
switch tpmTimings {
case .success(let tpm):
    print("the device key in a TPM (swtpm, in-process, \(tpm.samples) samples, median):")
    print(
        "  ES256 signature   TPM \(fixed(tpm.tpmSignMillis, 2)) ms; software key \(fixed(tpm.softwareSignMicros, 0)) µs (the reference)"
    )
    print("  TPM2_Quote PCRs 0-9  \(fixed(tpm.quoteMillis, 2)) ms")
    print("  collector CPU to parse and verify a TPMS_ATTEST  \(fixed(tpm.attestVerifyMicros, 0)) µs")
    print(
        "  collector CPU per attestation's quote (signature, nonce, PCR digest)  \(fixed(tpm.quoteCheckMicros, 0)) µs; one P-256 verification \(fixed(tpm.p256VerifyMicros, 0)) µs (the reference)"
    )
    print(
        "  collector CPU to replay a \(tpm.eventLogBytes / 1024) KiB event log (\(tpm.eventLogEvents) events), once per boot  \(fixed(tpm.replayMicros, 0)) µs"
    )
case .failure(let error):
    print("the device key in a TPM: not measured (\(error))")
}
if getenv("POSTURE_BENCH_KEEP") == nil {
    _ = spawnMeasured(["rm", "-rf", directory])
} else {
    print("kept \(directory)")
}
