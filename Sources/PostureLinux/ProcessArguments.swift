/// This process's command line. Swift finds `argv` on Linux by walking back from `environ`; a preloaded
/// library that rewrites the environment before `main` (libfaketime does; so may an endpoint-security
/// agent's) moves `environ` to the heap, and `CommandLine.arguments` comes back empty. The kernel's copy
/// in `/proc/self/cmdline` is then the answer.
public enum ProcessArguments {
    public static var current: [String] {
        let arguments = CommandLine.arguments
        if !arguments.isEmpty { return arguments }
        guard let bytes = try? DurableFile.read("/proc/self/cmdline", limit: 1 << 20), !bytes.isEmpty else {
            return []
        }
        // NUL-terminated strings, one per argument.
        return bytes.split(separator: 0, omittingEmptySubsequences: false).dropLast().map {
            String(decoding: $0, as: UTF8.self)
        }
    }
}
