#if canImport(Glibc)
    import Glibc
#endif

/// The process's open-file limit (RLIMIT_NOFILE), raised to its hard limit when the listeners' connection
/// caps need more. One libc call kept here: the collector links no OS module but this.
enum DescriptorLimit {
    /// Raises the soft limit towards `wanted` (never above the hard limit); returns the soft limit now.
    static func raise(to wanted: Int) -> Int {
        #if canImport(Glibc)
            var limit = rlimit()
            let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
            guard getrlimit(resource, &limit) == 0 else { return wanted }
            let target = min(rlim_t(max(wanted, 0)), limit.rlim_max)
            if limit.rlim_cur < target {
                var raised = limit
                raised.rlim_cur = target
                if setrlimit(resource, &raised) == 0 { limit = raised }
            }
            return limit.rlim_cur >= rlim_t(Int.max) ? Int.max : Int(limit.rlim_cur)
        #else
            return wanted
        #endif
    }
}
