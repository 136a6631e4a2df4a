import Logging
import PostureLinux
import PostureModel
import SystemdJournal

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// Takes local access away while the device is not compliant and gives it back when it is: blocks new
/// logins with `/run/nologin` (pam_nologin), ends the sessions of users who are not exempt through logind,
/// and undoes exactly what it did. Every decision and action is written to the journal with a stable
/// MESSAGE_ID and kept for `postured status` in `enforcement.json`.
public actor Enforcer {
    /// Stable journal MESSAGE_IDs: `journalctl MESSAGE_ID=…` finds every record of one kind.
    public enum MessageID {
        public static let decision = "5652cec4aafb43aebeeee886d8a866ba"
        public static let loginsBlocked = "cee18461f57b40cd99f60ab5ef846ff6"
        public static let sessionTerminated = "ce946f3342204819b3e968468a912e2e"
        public static let restored = "a1fa4bbd06064b05912eb732a9a97dbb"
        public static let actionFailed = "15bd328aee5e412996e3b89614461c40"
        public static let usersNotified = "e430d47d6b574d0f9c7ab91d1d2061a7"
    }

    /// What the agent has put in place, persisted so a restart can still undo it.
    public struct State: Codable, Sendable, Equatable {
        public var enforcing = false
        public var since: Date?
        public var reason: String?
        /// The exact nologin text the agent wrote: only a file with this content is removed.
        public var nologinWritten: String?
        public var terminatedSessions: [String] = []
        /// Accounts whose password the agent locked (and only these are unlocked).
        public var lockedAccounts: [String] = []
        public var lastVerdictAt: Date?
        public var lastDecision: String?
        /// The boot this state is about: `/run/nologin` and logind session IDs do not outlive it.
        public var bootID: String?
        /// The newest verified verdict acted on: an older one is a replay, also after a restart.
        public var verdictMark: VerdictMark?
        /// A release was decided and is under way: a restart finishes it rather than re-block.
        public var releasing: Bool?

        public init() {}

        /// The record at `path`; nil when there is none or it cannot be read (enforcement starts afresh).
        public static func load(from path: String) -> State? {
            (try? DurableFile.read(path)).flatMap { bytes in
                try? PostureReport.wireDecoder().decode(State.self, from: Data(bytes))
            }
        }
    }

    public struct Record: Sendable, Codable, Equatable {
        public var at: Date
        public var messageID: String
        public var message: String
        public var fields: [String: String]
    }

    let options: EnforcementOptions
    let logins: any LoginManager
    let statePath: String?
    let logger: Logger
    private(set) public var state: State
    private var pendingSince: Date?
    /// Every record also goes here (tests and the collector report read it).
    private(set) public var records: [Record] = []
    /// How many of `records` the collector has been told of.
    private var reported = 0

    /// This boot's ID (nil where it cannot be read: then nothing is taken as from an earlier boot).
    let bootID: String?

    public init(
        options: EnforcementOptions, logins: any LoginManager, statePath: String?, logger: Logger,
        bootID: String? = BootID.current()
    ) {
        self.options = options
        self.logins = logins
        self.statePath = statePath
        self.logger = logger
        self.bootID = bootID
        state = statePath.flatMap(State.load(from:)) ?? State()
    }

    /// Run at start, before the agent reports ready (and so, through the unit's ordering, before sshd and
    /// the gettys take logins): after a reboot, `/run` is empty and session IDs start again, so what the
    /// last verdict required is put back in place from the saved state (the offline rule applies if that
    /// verdict is too old), and no saved session ID is taken for one of this boot's.
    public func reestablish(now: Date = Date()) async {
        guard options.mode != .off else { return }
        let rebooted = bootID != nil && state.bootID != bootID
        if rebooted {
            state.terminatedSessions = []
            state.bootID = bootID
            save()
        }
        guard state.enforcing else { return }
        if state.releasing == true {
            await giveAccessBack(why: "finishing a release a restart interrupted")
            save()
            return
        }
        if let last = state.lastVerdictAt, now.timeIntervalSince(last) > options.keepLastVerdictFor.seconds {
            await collectorUnreachable(now: now)
            return
        }
        record(
            MessageID.decision,
            "\(rebooted ? "after a reboot" : "at start"): access stays taken away (\(state.reason ?? "last verdict"))",
            ["POSTURE_ACTION": "decide", "POSTURE_RESULT": "re-established"])
        blockLogins(why: state.reason ?? "the last verdict")
        if options.disableAccounts { await disableAccounts(why: state.reason ?? "the last verdict") }
        save()
    }

    /// Saves the newest verified verdict's mark with the rest of the state.
    public func remember(_ mark: VerdictMark) {
        state.verdictMark = mark
        save()
    }

    /// Applies a verified verdict: `failing` names the failing rules, for the message users see.
    public func apply(status: ComplianceStatus, failing: [String], quarantine: String?, at now: Date = Date()) async {
        guard options.mode != .off else { return }
        state.lastVerdictAt = now
        let deny = status == .noncompliant || (status == .unknown && options.enforceUnknown)
        if status == .unknown && !options.enforceUnknown {
            decide("verdict unknown: access left as it is", status: status, failing: failing)
            return
        }
        var why = failing.isEmpty ? "the device is \(status.rawValue)" : "failing: \(failing.joined(separator: ", "))"
        if let quarantine { why = "quarantined: \(quarantine)" }
        if deny {
            await takeAccessAway(why: why, status: status, failing: failing, now: now)
        } else {
            pendingSince = nil
            await giveAccessBack(why: "the device is compliant again")
        }
        save()
    }

    /// Undoes what enforcement has put in place (the nologin file, locked accounts), whatever the verdict:
    /// the package runs it when the agent is removed, so no one stays locked out by an agent that is gone.
    public func release(why: String) async {
        await giveAccessBack(why: why)
        save()
    }

    /// No verified verdict for a while: the offline rule decides.
    public func collectorUnreachable(now: Date = Date()) async {
        guard options.mode != .off, let last = state.lastVerdictAt,
            now.timeIntervalSince(last) > options.keepLastVerdictFor.seconds
        else { return }
        switch options.offline {
        case .closed:
            await takeAccessAway(
                why: "no verified verdict for \(Int(now.timeIntervalSince(last))) s (offline policy: closed)",
                status: .unknown, failing: [], now: now)
        case .open:
            await giveAccessBack(why: "no verified verdict (offline policy: open)")
        }
        save()
    }

    private func takeAccessAway(why: String, status: ComplianceStatus, failing: [String], now: Date) async {
        if !state.enforcing && options.notifyFor > .zero {
            guard let since = pendingSince else {
                pendingSince = now
                await notify(why: why)
                if options.lockDuringNotice { await lockSessions(why: why) }
                decide("access ends in \(Int(options.notifyFor.seconds)) s: \(why)", status: status, failing: failing)
                return
            }
            guard now.timeIntervalSince(since) >= options.notifyFor.seconds else { return }
        }
        // The same verdict again (every report carries one): only new sessions or a failed step act again.
        if !(state.enforcing && state.reason == why) {
            decide("access taken away: \(why)", status: status, failing: failing)
        }
        if !state.enforcing {
            state.enforcing = true
            state.since = now
        }
        state.reason = why
        state.bootID = bootID
        state.releasing = nil
        save()
        blockLogins(why: why)
        if options.terminateSessions { await endSessions(why: why) }
        if options.disableAccounts { await disableAccounts(why: why) }
    }

    /// Undoes exactly what the saved state says was put in place, forgetting each step once it is undone, so
    /// that a kill at any point leaves the rest for the next attempt (here, after a restart, or
    /// `postured release-access`).
    private func giveAccessBack(why: String) async {
        guard state.enforcing else { return }
        state.releasing = true
        save()
        var undone: [String] = []
        if let written = state.nologinWritten {
            let current = (try? DurableFile.read(options.nologinPath)).map { String(decoding: $0, as: UTF8.self) }
            if current == written {
                if options.mode == .enforce {
                    do {
                        FaultPoint.reached("unblock-logins")
                        try DurableFile.remove(options.nologinPath)
                        FaultPoint.reached("logins-unblocked")
                        undone.append("removed \(options.nologinPath)")
                        state.nologinWritten = nil
                    } catch {
                        failed("remove \(options.nologinPath)", error: error)
                    }
                } else {
                    undone.append("would remove \(options.nologinPath)")
                    state.nologinWritten = nil
                }
            } else {
                // Absent (never written before a kill, or a reboot emptied /run), or someone else's now.
                if current != nil { undone.append("left \(options.nologinPath) alone: someone else changed it") }
                state.nologinWritten = nil
            }
            save()
        }
        for user in state.lockedAccounts {
            guard options.mode == .enforce else {
                state.lockedAccounts.removeAll { $0 == user }
                continue
            }
            FaultPoint.reached("unlock-account")
            if await Self.passwordTool(["-U", user]) {
                FaultPoint.reached("account-unlocked")
                undone.append("unlocked \(user)")
                state.lockedAccounts.removeAll { $0 == user }
                save()
            } else {
                failed("unlock the account \(user) (usermod -U)", error: SystemError(code: .ioFailure, call: "usermod"))
            }
        }
        record(
            MessageID.restored,
            "access restored: \(why); \(undone.isEmpty ? "nothing of ours to undo" : undone.joined(separator: "; "))",
            ["POSTURE_ACTION": "restore", "POSTURE_RESULT": undone.joined(separator: "; ")])
        // What could not be undone stays recorded (and enforcing) and is tried again with the next verdict.
        guard state.nologinWritten == nil && state.lockedAccounts.isEmpty else { return }
        let mark = state.verdictMark
        state = State()
        state.lastVerdictAt = Date()
        state.bootID = bootID
        state.verdictMark = mark
    }

    /// Writes the nologin file, recording the intent (the exact text) durably first: killed in between,
    /// the agent still knows the file is its own. Any file that is there and not ours, even empty, is an
    /// administrator's: it blocks logins all the same and is neither overwritten nor claimed.
    private func blockLogins(why: String) {
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

    private func endSessions(why: String) async {
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
            } catch let error as SystemError where "\(error)".contains("NoSuchSession") {
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
    /// removes the lock usermod -L adds).
    private func disableAccounts(why: String) async {
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
        for (user, uid) in users where !isExempt(user: user, uid: uid) {
            // `passwd -S`: the second field is P (usable password), L (locked) or NP (none). A recorded account
            // still usable is one whose lock a kill interrupted: it is locked now.
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
    private func lockSessions(why: String) async {
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

    private func notify(why: String) async {
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

    private func decide(_ message: String, status: ComplianceStatus, failing: [String]) {
        state.lastDecision = message
        record(
            MessageID.decision, message,
            [
                "POSTURE_ACTION": "decide", "POSTURE_VERDICT": status.rawValue,
                "POSTURE_RULES": failing.joined(separator: ","),
            ])
    }

    private func failed(_ what: String, error: any Error, fields: [String: String] = [:]) {
        record(
            MessageID.actionFailed, "could not \(what): \(error); will retry with the next verdict",
            fields.merging(["POSTURE_RESULT": "failed", "POSTURE_ERROR": "\(error)"]) { $1 }, level: .error)
    }

    private func record(_ id: String, _ message: String, _ fields: [String: String], level: Logger.Level = .notice) {
        var all = fields
        all["POSTURE_MODE"] = options.mode.rawValue
        records.append(Record(at: Date(), messageID: id, message: message, fields: all))
        // Bounded: the oldest unreported records go first if the collector stays away.
        let overflow = records.count - 2000
        if overflow > 0 {
            records.removeFirst(overflow)
            reported = max(0, reported - overflow)
        }
        let journaled = JournalWriter.send(
            [
                ("MESSAGE", message), ("MESSAGE_ID", id), ("PRIORITY", level == .error ? "3" : "5"),
                ("SYSLOG_IDENTIFIER", "postured"),
            ] + all.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        // Under systemd standard error is the journal too: the structured entry is the one record.
        if !(journaled && JournalWriter.standardErrorIsJournal) {
            logger.log(level: level, "\(message)", metadata: all.mapValues { .string($0) })
        }
    }

    /// Records not yet reported to the collector; `markReported` after it accepted them.
    public func unreported() -> [Record] { Array(records.dropFirst(min(reported, records.count))) }
    public func markReported(_ count: Int) { reported = min(records.count, reported + count) }

    private func save() {
        guard let statePath, let bytes = try? PostureReport.wireEncoder().encode(state) else { return }
        try? DurableFile.write(Array(bytes), to: statePath, mode: 0o644)
    }
}
