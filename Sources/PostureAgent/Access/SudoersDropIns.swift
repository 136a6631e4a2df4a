import PostureLinux
import PostureModel
import PostureSystem

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The sudoers drop-ins that carry time-bound sudo grants, one file per grant in the sudoers include
/// directory, named `posture-grant-ID-DEADLINE` so the deadline is known without the collector (offline,
/// after a restart or a reboot). Each rule also carries sudo's own `NOTAFTER`, so sudo refuses it after the
/// deadline even if the agent is not running to remove it. Nothing else in the directory is touched.
struct SudoersDropIns {
    let directory: String
    let visudo: String

    static let prefix = "posture-grant-"

    struct Installed: Equatable {
        let id: Int64
        /// Unix seconds.
        let deadline: Int64
        let path: String
    }

    /// The drop-ins this agent installed, by their names.
    func installed() -> [Installed] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name in
            guard name.hasPrefix(Self.prefix) else { return nil }
            let parts = name.dropFirst(Self.prefix.count).split(separator: "-")
            guard parts.count == 2, let id = Int64(parts[0]), let deadline = Int64(parts[1]) else { return nil }
            return Installed(id: id, deadline: deadline, path: "\(directory)/\(name)")
        }.sorted { $0.id < $1.id }
    }

    /// Writes the grant's drop-in under a name sudo ignores (it has a dot), has `visudo -cf` check it, and
    /// only then moves it into place: a drop-in sudo would refuse (and with it every rule) is never installed.
    func install(_ grant: SudoGrantState, uid: uid_t) async throws(SudoersError) -> Installed {
        guard let until = grant.validUntil else { throw SudoersError("sudo grant \(grant.id) has no deadline") }
        // The collector's policy holds commands to this already; a drop-in is root's, so check again here.
        guard !grant.commands.isEmpty, grant.commands.allSatisfy(SudoGrantState.isSudoersCommand) else {
            throw SudoersError(
                "sudo grant \(grant.id) names a command that is not an absolute path with plain arguments; not installed"
            )
        }
        let deadline = Int64(until.timeIntervalSince1970.rounded(.down))
        let path = "\(directory)/\(Self.prefix)\(grant.id)-\(deadline)"
        let staged = "\(directory)/.\(Self.prefix)\(grant.id).check"
        do {
            try DurableFile.write(Array(Self.text(grant, uid: uid, deadline: deadline).utf8), to: staged, mode: 0o440)
        } catch {
            throw SudoersError("cannot write \(staged): \(error)")
        }
        let checked: (status: Int32?, output: String)
        do {
            checked = try await BoundedChildProcess.run([visudo, "-c", "-q", "-f", staged], timeout: .seconds(10))
        } catch {
            unlink(staged)
            throw SudoersError(
                "cannot run \(visudo) to check the drop-in (\(error)); install sudo or set access.visudo")
        }
        guard checked.status == 0 else {
            unlink(staged)
            throw SudoersError(
                "visudo -cf refused the drop-in for sudo grant \(grant.id) (exit \(checked.status.map(String.init) ?? "signal")); it was not installed"
            )
        }
        guard rename(staged, path) == 0 else {
            let code = errno
            unlink(staged)
            throw SudoersError("cannot move the drop-in to \(path): \(String(cString: strerror(code)))")
        }
        try? DurableFile.syncDirectory(of: path)
        return Installed(id: grant.id, deadline: deadline, path: path)
    }

    func remove(_ installed: Installed) throws(SudoersError) {
        do {
            try DurableFile.remove(installed.path)
        } catch {
            throw SudoersError("cannot remove \(installed.path): \(error); remove it by hand")
        }
    }

    /// The rule: by uid (no user name needs sudoers quoting), as any user, without a password (the grant is
    /// the authorization), never after the deadline.
    static func text(_ grant: SudoGrantState, uid: uid_t, deadline: Int64) -> String {
        let notAfter = Self.generalizedTime(deadline)
        // Names in the comment are the collector's: no line break may end the comment early.
        let said = { (text: String) in
            String(String.UnicodeScalarView(text.unicodeScalars.filter { $0.properties.generalCategory != .control }))
        }
        let commands = grant.commands.joined(separator: ", ")
        return """
            # Posture just-in-time sudo: grant \(said(grant.grant)) (id \(grant.id)) for \(said(grant.user)) until \(notAfter).
            # Written by postured, which removes it at the deadline, when the device turns non-compliant or the
            # grant is revoked; sudo itself refuses it after NOTAFTER. Do not edit: the next check replaces it.
            #\(uid) ALL=(ALL:ALL) NOTAFTER=\(notAfter) NOPASSWD: \(commands)

            """
    }

    /// `YYYYMMDDHHMMSSZ`, sudoers' timestamp form.
    static func generalizedTime(_ seconds: Int64) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        let fields = [
            (Int(parts.tm_year) + 1900, 4), (Int(parts.tm_mon) + 1, 2), (Int(parts.tm_mday), 2),
            (Int(parts.tm_hour), 2), (Int(parts.tm_min), 2), (Int(parts.tm_sec), 2),
        ]
        return fields.map { value, width in
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }.joined() + "Z"
    }
}

/// Why a drop-in was not installed or removed, in words for the log and the user.
struct SudoersError: Error, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
