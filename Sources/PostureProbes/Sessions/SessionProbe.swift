import PostureLinux
import PostureModel

#if canImport(Glibc)
    import Glibc
#endif

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Login sessions and their screen lock, from systemd-logind over D-Bus (the system bus, or
/// `DBUS_SYSTEM_BUS_ADDRESS`). See README.md.
public struct SessionProbe: Probe {
    static let source = "org.freedesktop.login1 (D-Bus)"

    /// Desktops whose screen lockers set logind's `LockedHint` (GNOME Shell, KDE Plasma's kscreenlocker), by
    /// the first word of `XDG_SESSION_DESKTOP` (`gnome-xorg` is `gnome`; `ubuntu` and `pop` are GNOME).
    /// Elsewhere a false hint says nothing.
    static let lockHintDesktops: Set = ["gnome", "ubuntu", "pop", "kde", "plasma", "plasmawayland", "plasmax11"]

    public init() {}

    public func collect(in context: ProbeContext) -> Fact<SessionFacts> {
        do {
            // More are read than listed, so that graphical sessions come first among those listed.
            let read = try LogindClient.readSessions(limit: 4 * SessionFacts.listedLimit)
            // Graphical first, then in logind's order of ids (numbers: "9" before "10").
            let sessions = read.sessions.map(Self.facts).sorted {
                ($0.graphical ? 0 : 1, $0.id.count, $0.id) < ($1.graphical ? 0 : 1, $1.id.count, $1.id)
            }
            return .observed(
                SessionFacts(sessions: Array(sessions.prefix(SessionFacts.listedLimit)), total: read.total),
                source: Self.source)
        } catch let error as SystemError {
            return .unavailable(reason: Self.reason(error), source: Self.source)
        } catch {
            return .unavailable(reason: "\(error)", source: Self.source)
        }
    }

    static func facts(_ session: LogindSessionProperties) -> LoginSessionFacts {
        func date(_ microseconds: UInt64) -> Date? {
            microseconds == 0 ? nil : Date(timeIntervalSince1970: Double(microseconds) / 1_000_000)
        }
        var facts = LoginSessionFacts(
            id: session.id, user: session.user, uid: session.uid, type: session.type,
            sessionClass: session.sessionClass, remote: session.remote,
            remoteHost: session.remoteHost.isEmpty ? nil : session.remoteHost, service: session.service,
            desktop: session.desktop.isEmpty ? nil : session.desktop, active: session.active, idle: session.idleHint,
            idleSince: session.idleHint ? date(session.idleSinceMicroseconds) : nil, locked: .notApplicable,
            since: date(session.timestampMicroseconds))
        if facts.graphical {
            if session.lockedHint {
                facts.locked = .locked
            } else {
                facts.locked = keepsLockHint(facts.desktop) ? .unlocked : .unknown
            }
        }
        return facts
    }

    static func keepsLockHint(_ desktop: String?) -> Bool {
        guard let desktop else { return false }
        let word = desktop.lowercased().split(whereSeparator: { $0 == "-" || $0 == ":" }).first.map(String.init) ?? ""
        return lockHintDesktops.contains(word)
    }

    /// The bus error in the words an operator acts on.
    static func reason(_ error: SystemError) -> String {
        switch error.busError {
        case "org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner":
            return "systemd-logind is not running on the system bus (\(error)): no sessions to read"
        case "org.freedesktop.DBus.Error.AccessDenied":
            return
                "the system bus refused the session listing (\(error)); postured needs to read org.freedesktop.login1"
        default:
            if error.call == "sd_bus_open_system" || error.code == .notFound || error.errno == ECONNREFUSED {
                return "no D-Bus system bus (\(error)): logind cannot be asked (a container without systemd?)"
            }
            return error.description
        }
    }
}
