import PostureLinux
import PostureModel

/// Decides which security category, if any, a journal entry belongs to. Sources are told apart by
/// trusted fields (`_TRANSPORT`, `MESSAGE_ID`) where systemd provides them, and by the exact message
/// forms of OpenSSH, sudo and the kernel otherwise.
struct JournalClassifier {
    /// systemd's catalog IDs (sd-messages.h).
    static let unitStopped = "9d1aaa27d60140bd96365438aad20286"
    static let unitFailureResult = "d9b373ed55a64feb8242e02dbe79a49c"
    static let sessionStart = "8d45620c1a4348dbb17410da57c60c66"

    /// The journal matches that select every entry the classifier can say anything about; sd-journal
    /// applies them through its field index, so unrelated entries are never read.
    static let matches: [[String]] = [
        ["SYSLOG_IDENTIFIER=sshd", "SYSLOG_IDENTIFIER=sshd-session", "SYSLOG_IDENTIFIER=sudo"],
        ["_TRANSPORT=kernel"],
        ["MESSAGE_ID=\(unitStopped)", "MESSAGE_ID=\(unitFailureResult)", "MESSAGE_ID=\(sessionStart)"],
    ]

    /// The fields of an entry the classifier looks at.
    struct Entry {
        var identifier: String?
        var transport: String?
        var messageID: String?
        /// For systemd's unit messages: the unit the message is about.
        var unit: String?
        var message: String
    }

    let watchedUnits: Set<String>

    func category(of entry: Entry) -> JournalEventCategory? {
        if let id = entry.messageID {
            switch id {
            case Self.unitStopped:
                return entry.unit.map(watchedUnits.contains) == true ? .securityUnitStopped : nil
            case Self.unitFailureResult:
                return entry.unit.map(watchedUnits.contains) == true ? .securityUnitFailed : nil
            case Self.sessionStart:
                return .loginSessionStarted
            default:
                break
            }
        }
        if entry.transport == "kernel" { return kernelCategory(entry.message) }
        switch entry.identifier {
        case "sshd"?, "sshd-session"?: return sshCategory(entry.message)
        case "sudo"?: return sudoCategory(entry.message)
        default: return nil
        }
    }

    private func sshCategory(_ message: String) -> JournalEventCategory? {
        // "Failed password for root from 192.0.2.1 port 22 ssh2", "Failed publickey for invalid user …"
        if message.hasPrefixBytes("Failed "), message.containsBytes(" for ") { return .sshAuthFailure }
        // "Invalid user admin from 192.0.2.1 port 4711"
        if message.hasPrefixBytes("Invalid user ") { return .sshInvalidUser }
        return nil
    }

    private func sudoCategory(_ message: String) -> JournalEventCategory? {
        // "alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/sh"
        if message.containsBytes("incorrect password attempt") { return .sudoAuthFailure }
        if message.containsBytes("user NOT in sudoers") || message.containsBytes("command not allowed")
            || message.containsBytes("user NOT authorized on host")
        {
            return .sudoDenied
        }
        if message.containsBytes(" ; USER=root ; COMMAND=") { return .sudoToRoot }
        return nil
    }

    private func kernelCategory(_ message: String) -> JournalEventCategory? {
        // "usb 1-1: New USB device found, idVendor=0781, idProduct=5567, bcdDevice= 1.00"
        if message.containsBytes("New USB device found") { return .usbDeviceAdded }
        // "a.out[4242]: segfault at 0 ip 000055d0c0de1139 sp 00007ffd4e3c5d60 error 6 in a.out[…]"
        if message.containsBytes(": segfault at ") { return .segfault }
        if message.hasPrefixBytes("Oops:") || message.hasPrefixBytes("BUG: ")
            || message.hasPrefixBytes("kernel BUG at ")
            || message.hasPrefixBytes("general protection fault")
        {
            return .kernelOops
        }
        return nil
    }
}
