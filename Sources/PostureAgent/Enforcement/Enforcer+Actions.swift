import Logging
import PostureLinux
import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// The actions themselves (nologin, sessions, accounts, notices) and who is exempt from them. Each records its
/// intent in the saved state before it acts; see `Enforcer` for when they run.
extension Enforcer {
    /// Writes the nologin file, recording the intent (the exact text) durably first: killed in between,
    /// the agent still knows the file is its own. Any file that is there and not ours, even empty, is an
    /// administrator's: it blocks logins all the same and is neither overwritten nor claimed.
    func blockLogins(why: String) {
        let current = try? DurableFile.read(options.nologinPath)
        let text: String
        if let written = state.nologinWritten {
            if let current, String(decoding: current, as: UTF8.self) == written { return }
            if current != nil {
                state.nologinWritten = nil
                save()
                record(
                    MessageID.loginsBlocked, "\(options.nologinPath) was replaced by someone else; left as it is",
                    ["POSTURE_ACTION": "block-logins", "POSTURE_RESULT": "already-blocked"])
                return
            }
            // Recorded but absent: killed before writing it, or a reboot emptied /run.
            text = written
        } else {
            if current != nil {
                record(
                    MessageID.loginsBlocked,
                    "logins already blocked by an existing \(options.nologinPath); left as it is",
                    ["POSTURE_ACTION": "block-logins", "POSTURE_RESULT": "already-blocked"])
                return
            }
            text = """
                Logins are blocked by Posture: this device does not meet the security policy.
                Why: \(why)
                Fix it, or ask your administrator; access returns by itself when the device is compliant again.
                (written by postured; removed when the device is compliant)

                """
        }
        guard options.mode == .enforce else {
            record(
                MessageID.loginsBlocked, "dry run: would write \(options.nologinPath)",
                ["POSTURE_ACTION": "block-logins", "POSTURE_RESULT": "dry-run"])
            state.nologinWritten = text
            return
        }
        state.nologinWritten = text
        save()
        FaultPoint.reached("block-logins")
        do {
            try DurableFile.write(Array(text.utf8), to: options.nologinPath, mode: 0o644)
            record(
                MessageID.loginsBlocked, "new logins blocked: wrote \(options.nologinPath)",
                ["POSTURE_ACTION": "block-logins", "POSTURE_RESULT": "done"])
        } catch {
            failed("write \(options.nologinPath)", error: error)
        }
        FaultPoint.reached("logins-blocked")
    }

    func endSessions(why: String) async {
        let sessions: [LoginSession]
        do {
            sessions = try await logins.sessions()
        } catch {
            failed("list sessions", error: error)
            return
        }
        for session in sessions where !isExempt(session) && !state.terminatedSessions.contains(session.id) {
            let fields = [
                "POSTURE_ACTION": "terminate-session", "POSTURE_SESSION": session.id, "POSTURE_USER": session.user,
                "POSTURE_UID": String(session.uid),
            ]
            guard options.mode == .enforce else {
                record(
                    MessageID.sessionTerminated, "dry run: would end session \(session.id) of \(session.user)",
                    fields.merging(["POSTURE_RESULT": "dry-run"]) { $1 })
                continue
            }
            do {
                FaultPoint.reached("terminate-session")
                try await logins.terminate(session: session.id)
                state.terminatedSessions.append(session.id)
                save()
                FaultPoint.reached("session-terminated")
                record(
                    MessageID.sessionTerminated, "ended session \(session.id) of \(session.user): \(why)",
                    fields.merging(["POSTURE_RESULT": "done"]) { $1 })
            } catch let error as SystemError where error.busError == LogindClient.noSuchSession {
                // Ended between listing and terminating (logged out, or ended by someone else).
                record(
                    MessageID.sessionTerminated, "session \(session.id) of \(session.user) was already gone",
                    fields.merging(["POSTURE_RESULT": "already-gone"]) { $1 })
            } catch {
                failed("terminate session \(session.id) of \(session.user)", error: error, fields: fields)
            }
        }
    }

    /// Locks the passwords of non-exempt human accounts that have a usable one; remembers exactly which, each
    /// before it is locked (unlocking an account whose lock never happened is harmless: `usermod -U` only
    /// removes the lock usermod -L adds). Accounts already recorded are skipped, except at start
    /// (`recheckRecorded`), where one still usable is a lock a kill interrupted and is locked now.
    func disableAccounts(why: String, recheckRecorded: Bool = false) async {
        setpwent()
        defer { endpwent() }
        var users: [(String, UInt32)] = []
        while let entry = getpwent() {
            let shell = String(cString: entry.pointee.pw_shell)
            if entry.pointee.pw_uid >= 1000 && entry.pointee.pw_uid < 60000 && !shell.hasSuffix("nologin")
                && !shell.hasSuffix("false")
            {
                users.append((String(cString: entry.pointee.pw_name), entry.pointee.pw_uid))
            }
        }
        for (user, uid) in users
        where (recheckRecorded || !state.lockedAccounts.contains(user)) && !isExempt(user: user, uid: uid) {
            // `passwd -S`: the second field is P (usable password), L (locked) or NP (none).
            let status = await Self.output(["/usr/bin/passwd", "-S", user]).split(separator: " ").dropFirst().first
            guard status == "P" else { continue }
            let recorded = state.lockedAccounts.contains(user)
            let fields = ["POSTURE_ACTION": "lock-account", "POSTURE_USER": user]
            guard options.mode == .enforce else {
                record(MessageID.loginsBlocked, "dry run: would lock the account \(user)", fields)
                continue
            }
            if !recorded {
                state.lockedAccounts.append(user)
                save()
            }
            FaultPoint.reached("lock-account")
            if await Self.passwordTool(["-L", user]) {
                FaultPoint.reached("account-locked")
                record(
                    MessageID.loginsBlocked, "locked the account \(user): \(why)",
                    fields.merging(["POSTURE_RESULT": "done"]) { $1 })
            } else {
                if !recorded {
                    state.lockedAccounts.removeAll { $0 == user }
                    save()
                }
                failed(
                    "lock the account \(user) (usermod -L)", error: SystemError(code: .ioFailure, call: "usermod"),
                    fields: fields)
            }
        }
    }

    /// usermod, with a deadline: a hung helper is killed and reported, never a stalled quarantine.
    static func passwordTool(_ arguments: [String]) async -> Bool {
        (try? await BoundedChildProcess.run(["/usr/sbin/usermod"] + arguments, timeout: .seconds(10)))?.status == 0
    }

    static func output(_ arguments: [String]) async -> String {
        (try? await BoundedChildProcess.run(arguments, timeout: .seconds(10)))?.output ?? ""
    }

    /// The warning step: lock the screens of non-exempt sessions while users are told access will end.
    func lockSessions(why: String) async {
        guard let sessions = try? await logins.sessions() else { return }
        for session in sessions where !isExempt(session) {
            let fields = [
                "POSTURE_ACTION": "lock-session", "POSTURE_SESSION": session.id, "POSTURE_USER": session.user,
            ]
            guard options.mode == .enforce else {
                record(MessageID.usersNotified, "dry run: would lock session \(session.id) of \(session.user)", fields)
                continue
            }
            do {
                try await logins.lock(session: session.id)
                record(
                    MessageID.usersNotified, "locked session \(session.id) of \(session.user): \(why)",
                    fields.merging(["POSTURE_RESULT": "done"]) { $1 })
            } catch {
                failed("lock session \(session.id) of \(session.user)", error: error, fields: fields)
            }
        }
    }

    func isExempt(_ session: LoginSession) -> Bool { isExempt(user: session.user, uid: session.uid) }

    /// root, the configured users, and members of the configured groups. When membership cannot be read
    /// (the user unknown to NSS, a directory that fails) the user is spared and it is logged: taking a
    /// break-glass administrator's access on doubt is the worse mistake.
    func isExempt(user: String, uid: UInt32) -> Bool {
        if uid == 0 || options.exemptUsers.contains(user) { return true }
        guard !options.exemptGroups.isEmpty else { return false }
        guard let groups = Self.groups(of: user) else {
            record(
                MessageID.actionFailed,
                "cannot read the groups of \(user); spared as if exempt (check NSS: getent initgroups \(user))",
                ["POSTURE_ACTION": "exempt", "POSTURE_USER": user, "POSTURE_RESULT": "membership-unknown"],
                level: .error)
            return true
        }
        return !Set(groups).isDisjoint(with: options.exemptGroups)
    }

    /// Every group of `user`, however many (LDAP and AD users are often in hundreds); nil when unknown (the
    /// user database failed). A user the database answers does not exist is in no group.
    static func groups(of user: String) -> [String]? {
        var entry = passwd()
        var found: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16 << 10)
        let looked = getpwnam_r(user, &entry, &buffer, buffer.count, &found)
        guard looked == 0 else { return nil }
        guard found != nil else { return [] }
        let primary = entry.pw_gid
        var count: Int32 = 64
        var ids = [gid_t](repeating: 0, count: Int(count))
        // getgrouplist returns -1 and sets `count` to the number needed when the buffer is too small.
        for _ in 0..<8 {
            var wanted = count
            if getgrouplist(user, primary, &ids, &wanted) >= 0 {
                return ids.prefix(Int(wanted)).compactMap { id in
                    getgrgid(id).map { String(cString: $0.pointee.gr_name) }
                }
            }
            // Some NSS modules do not report the size needed: then double it.
            count = wanted > count ? wanted : count * 2
            ids = [gid_t](repeating: 0, count: Int(count))
        }
        return nil
    }

    func notify(why: String) async {
        let message =
            "Posture: this device does not meet the security policy (\(why)). Sessions end in \(Int(options.notifyFor.seconds)) s; fix it or save your work."
        guard options.mode == .enforce else {
            record(MessageID.usersNotified, "dry run: would tell users: \(message)", ["POSTURE_ACTION": "notify"])
            return
        }
        if (try? await BoundedChildProcess.run(["/usr/bin/wall", message], timeout: .seconds(10)))?.status == 0 {
            record(
                MessageID.usersNotified, "told users: \(message)",
                ["POSTURE_ACTION": "notify", "POSTURE_RESULT": "done"])
        } else {
            failed("wall", error: SystemError(code: .ioFailure, call: "wall"))
        }
    }
}
