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

    public typealias State = EnforcementState

    public typealias Record = EnforcementRecord

    let options: EnforcementOptions
    let logins: any LoginManager
    let statePath: String?
    let logger: Logger
    public internal(set) var state: State
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
        if options.disableAccounts {
            await disableAccounts(why: state.reason ?? "the last verdict", recheckRecorded: true)
        }
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

    func takeAccessAway(why: String, status: ComplianceStatus, failing: [String], now: Date) async {
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
    func giveAccessBack(why: String) async {
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

    func decide(_ message: String, status: ComplianceStatus, failing: [String]) {
        state.lastDecision = message
        record(
            MessageID.decision, message,
            [
                "POSTURE_ACTION": "decide", "POSTURE_VERDICT": status.rawValue,
                "POSTURE_RULES": failing.joined(separator: ","),
            ])
    }

    func failed(_ what: String, error: any Error, fields: [String: String] = [:]) {
        record(
            MessageID.actionFailed, "could not \(what): \(error); will retry with the next verdict",
            fields.merging(["POSTURE_RESULT": "failed", "POSTURE_ERROR": "\(error)"]) { $1 }, level: .error)
    }

    func record(_ id: String, _ message: String, _ fields: [String: String], level: Logger.Level = .notice) {
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

    func save() {
        guard let statePath, let bytes = try? PostureReport.wireEncoder().encode(state) else { return }
        try? DurableFile.write(Array(bytes), to: statePath, mode: 0o644)
    }
}
