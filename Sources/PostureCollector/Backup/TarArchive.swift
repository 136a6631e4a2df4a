#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A POSIX ustar archive of regular files, written in one pass: what `posture-collector backup` produces,
/// so a restore needs nothing but `tar -xf` (GNU tar, busybox, bsdtar all read it).
struct TarArchive {
    struct Member {
        var name: String
        var mode: Int
        var contents: Data
        var modified: Date
    }

    /// The archive's bytes. Names must be under 100 bytes (a state directory's are).
    static func encode(_ members: [Member]) throws -> Data {
        var archive = Data()
        for member in members {
            guard member.name.utf8.count < 100 else {
                throw CollectorError(.configuration, "cannot archive \(member.name): a name under 100 bytes is needed")
            }
            var header = [UInt8](repeating: 0, count: 512)
            func put(_ text: String, at offset: Int, width: Int) {
                for (index, byte) in text.utf8.prefix(width).enumerated() { header[offset + index] = byte }
            }
            func octal(_ value: Int, at offset: Int, width: Int) {
                put(
                    String(String(value, radix: 8).suffix(width - 1)).leftPadded(to: width - 1), at: offset,
                    width: width - 1)
            }
            put(member.name, at: 0, width: 100)
            octal(member.mode, at: 100, width: 8)
            octal(0, at: 108, width: 8)
            octal(0, at: 116, width: 8)
            octal(member.contents.count, at: 124, width: 12)
            octal(Int(member.modified.timeIntervalSince1970), at: 136, width: 12)
            put("        ", at: 148, width: 8)
            header[156] = UInt8(ascii: "0")
            put("ustar", at: 257, width: 6)
            put("00", at: 263, width: 2)
            let checksum = header.reduce(0) { $0 + Int($1) }
            put(String(String(checksum, radix: 8)).leftPadded(to: 6), at: 148, width: 6)
            header[154] = 0
            header[155] = UInt8(ascii: " ")
            archive.append(contentsOf: header)
            archive.append(member.contents)
            let padding = (512 - member.contents.count % 512) % 512
            archive.append(contentsOf: [UInt8](repeating: 0, count: padding))
        }
        archive.append(contentsOf: [UInt8](repeating: 0, count: 1024))
        return archive
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
