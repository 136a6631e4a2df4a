#if DEBUG
    import Foundation
    @testable import PostureProbes

    /// Journal export format (systemd.journal-export-formats(7), text fields only): `FIELD=value` lines,
    /// entries separated by a blank line. Each entry's fields go through the probe's entry mapping and the
    /// classifier, with the probe's default watched units.
    enum JournalTarget {
        static let classifier = JournalClassifier(watchedUnits: JournalOptions().watchedUnits)

        static func run(_ input: [UInt8]) -> String {
            let names = JournalProbe.fields.names
            var values = [String?](repeating: nil, count: names.count)
            var any = false
            var categories: [String] = []
            func flush() {
                if any { categories.append(classifier.category(of: JournalProbe.entry(values))?.rawValue ?? "none") }
                values = [String?](repeating: nil, count: names.count)
                any = false
            }
            for line in input.split(separator: 0x0A, omittingEmptySubsequences: false) {
                if line.isEmpty {
                    flush()
                    continue
                }
                guard let equals = line.firstIndex(of: 0x3D) else { continue }
                let name = String(decoding: line[..<equals], as: UTF8.self)
                if let position = names.firstIndex(of: name) {
                    values[position] = String(decoding: line[(equals + 1)...], as: UTF8.self)
                    any = true
                }
            }
            flush()
            return categories.joined(separator: " ")
        }
    }
#endif
