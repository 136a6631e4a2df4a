import CNetfilter
import PostureModel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Reads iptables-legacy tables of the calling thread's network namespace through the kernel's x_tables
/// getsockopt interface. Only tables the kernel lists in `/proc/thread-self/net/ip{,6}_tables_names` (this thread's namespace) are queried,
/// because asking for any other would instantiate it.
public enum LegacyIptablesReader {
    private static let hookNames = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"]

    public static func tables() throws(SystemError) -> [LegacyTable] {
        var tables: [LegacyTable] = []
        for (family, namesFile, addressFamily) in [
            ("ipv4", "/proc/thread-self/net/ip_tables_names", AF_INET),
            ("ipv6", "/proc/thread-self/net/ip6_tables_names", AF_INET6),
        ] {
            let names: String
            do {
                names = try HostRoot().readText(namesFile)
            } catch  where error.code == .notFound {
                continue  // x_tables for this family is not in the kernel: no legacy rules possible
            }
            for name in names.split(whereSeparator: \.isNewline).map(String.init).sorted() {
                var raw = posture_xt_table()
                let result = posture_xt_read_table(Int32(addressFamily), name, &raw)
                if result < 0 {
                    throw SystemError.errno(
                        -result, call: "getsockopt(IPT_SO_GET_INFO)", subject: "\(family) table \(name)",
                        detail: -result == EPERM ? "reading iptables-legacy needs root or CAP_NET_ADMIN" : nil)
                }
                var policies: [String: String] = [:]
                let values = withUnsafeBytes(of: raw.policies) { Array($0.bindMemory(to: Int32.self)) }
                for (hook, hookName) in hookNames.enumerated() where raw.valid_hooks & (1 << hook) != 0 {
                    switch Int(values[hook]) {
                    case Int(POSTURE_XT_POLICY_ACCEPT): policies[hookName] = "ACCEPT"
                    case Int(POSTURE_XT_POLICY_DROP): policies[hookName] = "DROP"
                    default: policies[hookName] = "OTHER"
                    }
                }
                tables.append(
                    LegacyTable(
                        family: family, name: name, ruleCount: Int(raw.rules), userChains: Int(raw.user_chains),
                        policies: policies))
            }
        }
        return tables
    }
}
