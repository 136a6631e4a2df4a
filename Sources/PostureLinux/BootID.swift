/// The kernel's ID of this boot (`/proc/sys/kernel/random/boot_id`): state about `/run` or logind sessions
/// is only about the boot that wrote it, since both start afresh at each boot.
public enum BootID {
    public static func current(root: HostRoot = HostRoot()) -> String? {
        guard let text = try? root.readAttribute("/proc/sys/kernel/random/boot_id"), !text.isEmpty else {
            return nil
        }
        return text
    }
}
