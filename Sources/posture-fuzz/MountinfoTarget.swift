#if DEBUG
    @testable import PostureProbes

    /// `/proc/self/mountinfo` (and the same text as `/proc/swaps`), with the octal unescaping of paths.
    enum MountinfoTarget {
        static func run(_ input: [UInt8]) -> String {
            let text = String(decoding: input, as: UTF8.self)
            let entries = try? MountTable.parseMountInfo(text)
            for entry in entries ?? [] { _ = entry.hasBlockNumber }
            let swaps = MountTable.parseSwaps(text)
            _ = MountTable.unescape(Substring(text))
            return "\(entries.map { "\($0.count) mounts" } ?? "not mountinfo"), \(swaps.count) swap lines"
        }
    }
#endif
