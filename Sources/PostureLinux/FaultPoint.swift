#if canImport(Glibc)
    import Glibc
#endif

/// Kill points for the crash-consistency tests: with `POSTURED_KILL_AT=NAME` (or `NAME:N`, the N-th time)
/// in its environment, the process kills itself with SIGKILL when it reaches the point of that name, as a
/// power cut or the OOM killer would at that instant. Unset (always, outside the tests), it costs a load.
public enum FaultPoint {
    private static let target: (name: Substring, count: Int)? = {
        guard let raw = getenv("POSTURED_KILL_AT") else { return nil }
        let text = String(cString: raw)
        let parts = text.split(separator: ":", maxSplits: 1)
        guard let name = parts.first, !name.isEmpty else { return nil }
        return (name, parts.count > 1 ? Int(parts[1]) ?? 1 : 1)
    }()
    nonisolated(unsafe) private static var seen = 0

    public static func reached(_ name: String) {
        guard let target, target.name == name else { return }
        seen += 1
        if seen >= target.count { kill(getpid(), SIGKILL) }
    }
}
