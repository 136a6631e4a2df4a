import Foundation

/// Real journal files for tests: entries in Journal Export Format, turned into a `.journal` file by
/// systemd-journal-remote (appending when the file exists, so cursors stay valid).
public struct JournalFixture {
    public static let journalRemote = "/lib/systemd/systemd-journal-remote"
    /// The label tests put on each entry: the category the classifier must find, or `none`.
    public static let labelField = "POSTURE_TEST_CATEGORY"

    public let file: URL
    private var monotonic: UInt64 = 1_000_000
    private let bootID = "0123456789abcdef0123456789abcdef"

    public init(directory: URL) {
        file = directory.appendingPathComponent("remote-test.journal")
    }

    /// Appends entries; each gets a realtime stamp `secondsAgo` before now (in order given).
    public mutating func append(_ entries: [[String: String]], secondsAgo: Double = 60) throws {
        var export = ""
        let start = UInt64((Date().timeIntervalSince1970 - secondsAgo) * 1_000_000)
        for (index, fields) in entries.enumerated() {
            monotonic += 1000
            export += "__REALTIME_TIMESTAMP=\(start + UInt64(index) * 1000)\n"
            export += "__MONOTONIC_TIMESTAMP=\(monotonic)\n_BOOT_ID=\(bootID)\n"
            for (key, value) in fields.sorted(by: { $0.key < $1.key }) { export += "\(key)=\(value)\n" }
            export += "\n"
        }
        try Shell.run([Self.journalRemote, "-o", file.path, "-"], stdin: Data(export.utf8), timeout: 120)
    }

    /// The independent oracle: `journalctl --file FILE -o json`, one object per entry.
    public func journalctlEntries() throws -> [[String: Any]] {
        let output = try Shell.run(["journalctl", "--file", file.path, "-o", "json", "--no-pager"], timeout: 120).stdout
        return try output.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] ?? [:]
        }
    }
}
