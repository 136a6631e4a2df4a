#if DEBUG
    import PostureModel
    @testable import PostureProbes

    /// The patch probe's parsers over one input cut at NUL bytes: a dpkg status file, a Packages list
    /// and a Release file; then apt's candidate for every installed package, and version ordering on
    /// every pair of versions met (which must be a total order: antisymmetric on each pair).
    enum PackagesTarget {
        static func run(_ input: [UInt8]) -> String {
            let parts = input.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
            func lines(_ index: Int) -> [ArraySlice<UInt8>] {
                guard index < parts.count else { return [] }
                return parts[index].split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
                    .map { Array($0)[...] }
            }
            var status = DpkgStatus.Stanzas()
            for line in lines(0) { status.line(line) }
            status.finish()
            var stanzas = PackagesStanzas(release: 0, installed: Set(status.installed.keys))
            for line in lines(1) { stanzas.line(line) }
            stanzas.finish()
            let release = AptRelease.parse(
                parts.count > 2 ? String(decoding: parts[2], as: UTF8.self) : "", prefix: "fuzz_")
            _ = (release.priority, release.isSecurity, release.name)
            let offers = AptOffers(offers: stanzas.found)
            var pending = 0
            for (key, version) in status.installed {
                let versions = Array(stanzas.found[key]?.keys ?? [:].keys) + [version]
                for a in versions {
                    for b in versions where DebianVersion.compare(a, b) != -DebianVersion.compare(b, a) {
                        fatalError("version order not antisymmetric: \(a) vs \(b)")
                    }
                }
                if let candidate = offers.candidate(key, installed: version, releases: [release]),
                    DebianVersion.compare(candidate.version, version) > 0
                {
                    pending += 1
                }
            }
            return "\(status.installed.count) installed, \(pending) pending"
        }
    }
#endif
