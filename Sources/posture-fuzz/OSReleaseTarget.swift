#if DEBUG
    import PostureModel
    @testable import PostureProbes

    /// os-release(5), then the OS section of the terminal table with the parsed fields.
    enum OSReleaseTarget {
        static func run(_ input: [UInt8]) -> String {
            let fields = OSReleaseParser.parse(String(decoding: input, as: UTF8.self))
            var report = Fixtures.baseReport
            report.os.osRelease = .observed(fields, source: "/etc/os-release")
            _ = ReportTable.render(report)
            return "\(fields.count) fields"
        }
    }
#endif
