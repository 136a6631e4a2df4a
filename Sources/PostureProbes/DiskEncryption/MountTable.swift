/// One line of `/proc/self/mountinfo` (proc(5)), with the fields the disk probe needs.
struct MountEntry: Equatable {
    var major: Int
    var minor: Int
    var mountPoint: String
    var fsType: String
    var source: String

    /// Anonymous devices (major 0) back proc, tmpfs, overlay, and also btrfs; the source then tells.
    var hasBlockNumber: Bool { major != 0 }
}

enum MountTable {
    static func parseMountInfo(_ text: String) throws(ProbeError) -> [MountEntry] {
        var entries: [MountEntry] = []
        for (index, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard let separator = fields.firstIndex(of: "-"), separator >= 6, fields.count >= separator + 3 else {
                throw ProbeError("/proc/self/mountinfo line \(index + 1) is not in proc(5) format: \(line.prefix(80))")
            }
            let numbers = fields[2].split(separator: ":")
            guard numbers.count == 2, let major = Int(numbers[0]), let minor = Int(numbers[1]) else {
                throw ProbeError("/proc/self/mountinfo line \(index + 1) has no MAJOR:MINOR: \(fields[2])")
            }
            entries.append(
                MountEntry(
                    major: major, minor: minor, mountPoint: unescape(fields[4]), fsType: String(fields[separator + 1]),
                    source: unescape(fields[separator + 2])))
        }
        return entries
    }

    struct SwapEntry: Equatable {
        var path: String
        var type: String
        var sizeKiB: Int
    }

    /// `/proc/swaps`: a header line, then `Filename Type Size Used Priority`.
    static func parseSwaps(_ text: String) -> [SwapEntry] {
        text.split(whereSeparator: \.isNewline).dropFirst().compactMap { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 3 else { return nil }
            return SwapEntry(path: unescape(fields[0]), type: String(fields[1]), sizeKiB: Int(fields[2]) ?? 0)
        }
    }

    /// The kernel escapes space, tab, newline and backslash in paths as `\ooo` octal.
    static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.first {
            utf8 = utf8.dropFirst()
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
                let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
