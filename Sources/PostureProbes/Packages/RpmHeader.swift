/// One rpm header as rpm stores it in its database (`Packages.blob` in `rpmdb.sqlite`): a count of index
/// entries and of data bytes, the entries (tag, type, offset, count: 16 bytes, big-endian), then the data.
/// Only the tags the patch probe needs are read; every offset is checked against the data before it is used.
struct RpmHeader {
    var name: String
    var evr: RpmEVR
    /// Empty for rpm's pseudo-packages (`gpg-pubkey`), which have none.
    var architecture: String
    /// `RPMTAG_INSTALLTIME`: seconds since the epoch.
    var installTime: Int64?

    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    enum Tag {
        static let name: UInt32 = 1000
        static let version: UInt32 = 1001
        static let release: UInt32 = 1002
        static let epoch: UInt32 = 1003
        static let installTime: UInt32 = 1008
        static let architecture: UInt32 = 1022
    }

    private enum Kind {
        static let int32: UInt32 = 4
        static let string: UInt32 = 6
    }

    static func parse(_ blob: UnsafeRawBufferPointer) throws(Malformed) -> RpmHeader {
        func word(_ offset: Int) -> UInt32 {
            (UInt32(blob[offset]) << 24) | (UInt32(blob[offset + 1]) << 16) | (UInt32(blob[offset + 2]) << 8)
                | UInt32(blob[offset + 3])
        }
        guard blob.count >= 8 else { throw Malformed(description: "\(blob.count) bytes: shorter than a header") }
        let entries = Int(word(0))
        let dataSize = Int(word(4))
        // rpm's own limits (header.c: hdrchkTags, hdrchkData) before any arithmetic on them.
        guard entries >= 1, entries <= 0xffff, dataSize <= 256 << 20, blob.count == 8 + entries * 16 + dataSize
        else {
            throw Malformed(
                description: "\(entries) entries and \(dataSize) data bytes do not make \(blob.count) bytes")
        }
        let dataStart = 8 + entries * 16
        var strings: [UInt32: String] = [:]
        var numbers: [UInt32: Int64] = [:]
        for index in 0..<entries {
            let at = 8 + index * 16
            let tag = word(at)
            let kind = word(at + 4)
            let offset = Int(word(at + 8))
            guard offset < dataSize else { continue }
            switch (tag, kind) {
            case (Tag.name, Kind.string), (Tag.version, Kind.string), (Tag.release, Kind.string),
                (Tag.architecture, Kind.string):
                let start = dataStart + offset
                guard let end = blob[start...].firstIndex(of: 0), end - start <= 4096 else {
                    throw Malformed(description: "tag \(tag): a string without its end")
                }
                strings[tag] = String(decoding: UnsafeRawBufferPointer(rebasing: blob[start..<end]), as: UTF8.self)
            case (Tag.epoch, Kind.int32), (Tag.installTime, Kind.int32):
                guard offset % 4 == 0, offset + 4 <= dataSize else {
                    throw Malformed(description: "tag \(tag): a number outside the data")
                }
                numbers[tag] = Int64(word(dataStart + offset))
            default: continue
            }
        }
        guard let name = strings[Tag.name], let version = strings[Tag.version], let release = strings[Tag.release]
        else { throw Malformed(description: "no name, version or release") }
        return RpmHeader(
            name: name, evr: RpmEVR(epoch: Int(numbers[Tag.epoch] ?? 0), version: version, release: release),
            architecture: strings[Tag.architecture] ?? "", installTime: numbers[Tag.installTime])
    }
}
