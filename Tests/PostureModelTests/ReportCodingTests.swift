import Foundation
import PostureModel
import Testing

@Suite struct ReportCodingTests {
    @Test func factsEncodeWithStatusSourceAndValueOrReason() throws {
        let encoder = PostureReport.makeEncoder()
        let observed = String(decoding: try encoder.encode(Fact<Bool>.observed(true, source: "/x")), as: UTF8.self)
        #expect(observed == #"{"source":"/x","status":"observed","value":true}"#)
        let unknown = String(
            decoding: try encoder.encode(Fact<Bool>.unavailable(reason: "no /x", source: "/x")), as: UTF8.self)
        #expect(
            unknown == #"{"reason":"no /x","source":"/x","status":"unavailable"}"#)
        let decoded = try PostureReport.makeDecoder().decode(Fact<Bool>.self, from: Data(unknown.utf8))
        #expect(decoded == .unavailable(reason: "no /x", source: "/x"))
    }

    @Test func aFactWithAnUnknownStatusIsRefused() {
        let json = #"{"status":"maybe","source":"/x","value":true}"#
        #expect(throws: DecodingError.self) {
            try PostureReport.makeDecoder().decode(Fact<Bool>.self, from: Data(json.utf8))
        }
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000000Z"),
        (Int64(1_795_575_540_052_617), "2026-11-25T02:59:00.052617Z"),
        (Int64(951_782_400_000_001), "2000-02-29T00:00:00.000001Z"),
        (Int64(-1), "1969-12-31T23:59:59.999999Z"),
    ])
    func timestampsAreRFC3339WithMicroseconds(micros: Int64, text: String) throws {
        let stamp = Timestamp(microsecondsSinceEpoch: micros)
        #expect(stamp.description == text)
        #expect(Timestamp.parse(text) == stamp)
        // Foundation's own formatter agrees on the whole seconds.
        let date = Date(timeIntervalSince1970: (Double(micros) / 1_000_000).rounded(.down))
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        #expect(formatter.string(from: date) == String(text.prefix(19)) + "Z")
    }

    @Test func blockDeviceEncryptionNeedsEveryPathEncrypted() {
        let disk = BlockDevice(name: "sda", number: "8:0", kind: .disk)
        let part1 = BlockDevice(name: "sda1", number: "8:1", kind: .partition, lower: [disk])
        let part2 = BlockDevice(name: "sda2", number: "8:2", kind: .partition, lower: [disk])
        let crypt = BlockDevice(name: "dm-0", number: "254:0", kind: .crypt, encryption: .luks2, lower: [part1])
        let mixedLVM = BlockDevice(name: "dm-1", number: "254:1", kind: .lvm, lower: [crypt, part2])
        let fullLVM = BlockDevice(name: "dm-2", number: "254:2", kind: .lvm, lower: [crypt])
        #expect(crypt.isEncrypted && fullLVM.isEncrypted)
        #expect(!mixedLVM.isEncrypted)
        #expect(!part1.isEncrypted)
        #expect(mixedLVM.encryptionLayers == [.luks2])
    }
}
