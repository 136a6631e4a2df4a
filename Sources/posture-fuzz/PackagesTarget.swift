#if DEBUG
    import Foundation
    import PostureLinux
    import PostureModel
    @testable import PostureProbes

    /// The patch probe's readers and parsers over one input cut at NUL bytes: a dpkg status file, a
    /// Packages list and a Release file, each written to a file and read back as the probe reads it
    /// (lines must come back exactly as split in memory); the whole input read as an LZ4 list (refused
    /// or decoded, never a crash); then apt's candidate and security fix for every installed package,
    /// and version ordering on every pair of versions met (which must be antisymmetric).
    enum PackagesTarget {
        static let directory: String = {
            let path = NSTemporaryDirectory() + "posture-fuzz-packages-\(getpid())"
            try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            return path
        }()

        static func run(_ input: [UInt8]) -> String {
            let parts = input.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false).map { Array($0) }
            func part(_ index: Int) -> [UInt8] { index < parts.count ? parts[index] : [] }
            let statusPath = directory + "/status"
            let listPath = directory + "/list_Packages"
            let lz4Path = directory + "/list_Packages.lz4"
            FileManager.default.createFile(atPath: statusPath, contents: Data(part(0)))
            FileManager.default.createFile(atPath: listPath, contents: Data(part(1)))
            FileManager.default.createFile(atPath: lz4Path, contents: Data(input))
            var read: [[UInt8]] = []
            try? IndexFileReader.forEachLine(listPath) { read.append(Array($0)) }
            var expected = part(1).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map {
                Array($0)
            }
            if expected.last?.isEmpty == true { expected.removeLast() }
            if read != expected { fatalError("lines read back differ: \(read.count) against \(expected.count)") }
            try? IndexFileReader.forEachLine(lz4Path) { _ in }

            guard let status = try? DpkgStatus.read(statusPath) else { return "status unreadable" }
            var offers = AptOffers()
            let release = AptRelease.parse(String(decoding: part(2), as: UTF8.self), prefix: "fuzz_")
            try? offers.read(listPath, release: 0, status: status)
            _ = (release.priority, release.isSecurity, release.name)
            var pending = 0
            for (key, package) in status.installed {
                let version = package.version
                let versions = Array(offers.offers[key]?.keys ?? [:].keys) + [version]
                for a in versions {
                    for b in versions where DebianVersion.compare(a, b) != -DebianVersion.compare(b, a) {
                        fatalError("version order not antisymmetric: \(a) vs \(b)")
                    }
                }
                if let candidate = offers.candidate(key, installed: version, releases: [release]),
                    DebianVersion.compare(candidate.version, version) > 0
                {
                    pending += 1
                    _ = offers.securityFix(
                        key, installed: version, candidate: candidate.version, releases: [release])
                }
            }
            return "\(status.installed.count) installed, \(pending) pending"
        }
    }
#endif
