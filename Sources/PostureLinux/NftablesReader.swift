import CNftables

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Reads the nftables ruleset of the calling thread's network namespace, in-process, as libnftables JSON.
public enum NftablesReader {
    /// `list ruleset` in JSON (see libnftables-json(5)). Needs CAP_NET_ADMIN.
    public static func rulesetJSON() throws(SystemError) -> [UInt8] {
        guard let context = nft_ctx_new(UInt32(NFT_CTX_DEFAULT)) else {
            throw SystemError(code: .ioFailure, call: "nft_ctx_new", detail: "libnftables could not allocate a context")
        }
        defer { nft_ctx_free(context) }
        nft_ctx_output_set_flags(context, UInt32(NFT_CTX_OUTPUT_JSON))
        guard nft_ctx_buffer_output(context) == 0, nft_ctx_buffer_error(context) == 0 else {
            throw SystemError(code: .ioFailure, call: "nft_ctx_buffer_output")
        }
        errno = 0
        let status = nft_run_cmd_from_buffer(context, "list ruleset")
        // The netlink error the kernel answered, as errno (the message below is only its words).
        let code = errno
        if status != 0 {
            let message = nft_ctx_get_error_buffer(context).map { String(cString: $0) } ?? ""
            let trimmed = message.split(separator: "\n").first.map(String.init) ?? "unknown error"
            let denied = code == EPERM || code == EACCES
            throw SystemError(
                code: denied ? .permissionDenied : .ioFailure, call: "nft list ruleset",
                detail: denied ? "\(trimmed); reading the ruleset needs root or CAP_NET_ADMIN" : trimmed)
        }
        guard let output = nft_ctx_get_output_buffer(context) else { return [] }
        return Array(UnsafeRawBufferPointer(start: output, count: strlen(output)))
    }
}
