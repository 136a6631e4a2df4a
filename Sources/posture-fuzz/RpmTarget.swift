#if DEBUG
    import Foundation
    import PostureLinux
    @testable import PostureProbes

    /// The rpm side of the patch probe over one input: an rpm header blob (as rpm stores it in `rpmdb.sqlite`,
    /// after its length in two bytes), then repository XML and version strings cut at a NUL byte. The XML is scanned whole and in chunks cut where the
    /// input says (the tokens must be the same), then read as primary metadata and as updateinfo from a file;
    /// the whole input is read as a gzip, xz, zstd and zchunk file (refused or decoded, never a crash); rpm version order
    /// over the lines of the last part must be antisymmetric.
    enum RpmTarget {
        static let directory: String = {
            let path = NSTemporaryDirectory() + "posture-fuzz-rpm-\(getpid())"
            try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            return path
        }()

        static func run(_ input: [UInt8]) -> String {
            // The header blob holds NUL bytes: its length comes first, as two bytes (big-endian).
            let length = input.count >= 2 ? min(Int(input[0]) << 8 | Int(input[1]), input.count - 2) : 0
            let blob = Array(input.dropFirst(2).prefix(length))
            let rest = input.dropFirst(2 + length)
            let parts = rest.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false).map { Array($0) }
            func part(_ index: Int) -> [UInt8] { index < parts.count ? parts[index] : [] }
            var found: [String] = []

            let header = blob.withUnsafeBytes { try? RpmHeader.parse($0) }
            found.append(header.map { "header \($0.name)-\($0.evr).\($0.architecture)" } ?? "header refused")

            let xml = part(0)
            let whole = tokens(xml, cut: xml.count)
            let cut = tokens(xml, cut: Int(xml.first ?? 1) % 17 + 1)
            if whole != cut { fatalError("tokens differ when fed in chunks: \(whole.count) against \(cut.count)") }
            let xmlPath = directory + "/metadata.xml"
            FileManager.default.createFile(atPath: xmlPath, contents: Data(xml))
            var offered = 0
            try? RepoXMLReader.primary(xmlPath, names: nil) { _ in offered += 1 }
            var advisories = 0
            try? RepoXMLReader.updateinfo(xmlPath, type: "security") { _ in advisories += 1 }
            found.append("\(whole.count) tokens, \(offered) packages, \(advisories) advisories")

            for suffix in [".gz", ".xz", ".zst", ".zck"] {
                let path = directory + "/input" + suffix
                FileManager.default.createFile(atPath: path, contents: Data(input))
                try? IndexFileReader.forEachChunk(path, limit: 1 << 20) { _ in }
            }

            let versions = part(1).split(separator: UInt8(ascii: "\n")).prefix(16).map {
                String(decoding: $0, as: UTF8.self)
            }
            for a in versions {
                for b in versions where RpmVersion.compare(a, b) != -RpmVersion.compare(b, a) {
                    fatalError("rpm version order not antisymmetric: \(a) vs \(b)")
                }
            }
            return found.joined(separator: "; ")
        }

        /// The scanner's tokens (kind, name, body, text) for `bytes` fed `cut` bytes at a time.
        private static func tokens(_ bytes: [UInt8], cut: Int) -> [String] {
            var scanner = RepoXMLScanner()
            var result: [String] = []
            var offset = 0
            do {
                while offset < bytes.count {
                    let end = min(offset + cut, bytes.count)
                    try scanner.feed(bytes[offset..<end]) { token in
                        result.append(
                            "\(token.kind) \(String(decoding: token.name, as: UTF8.self)) \(token.text) "
                                + "\(token.attribute("name") ?? "-")")
                    }
                    offset = end
                }
                try scanner.finish()
            } catch {
                result.append("error")
            }
            return result
        }
    }
#endif
