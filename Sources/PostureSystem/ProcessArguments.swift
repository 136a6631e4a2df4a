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

/// A multi-call binary's name as invoked (`/usr/bin/posturectl` → `posturectl`).
/// The command line this process was started with (program name first), robust to preloaded libraries.
public func invokedArguments() -> [String] { ProcessArguments.current }

public func invokedName() -> String {
    let path = ProcessArguments.current.first ?? ""
    return String(path.split(separator: "/").last ?? Substring(path))
}
