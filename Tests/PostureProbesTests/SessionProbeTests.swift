import Foundation
import PostureLinux
import PostureModel
import TestSupport
import Testing

@testable import PostureProbes

/// From logind's properties to the reported session: which false `LockedHint` means unlocked and which means
/// nothing. The read itself is tested against a real logind (`SessionTests`, nspawn) and without one
/// (`PosturedProbeTests`).
@Suite struct SessionProbeTests {
    func properties(type: String = "wayland", sessionClass: String = "user", desktop: String, locked: Bool = false)
        -> LogindSessionProperties
    {
        var session = LogindSessionProperties(id: "3", uid: 1000, user: "alice")
        session.type = type
        session.sessionClass = sessionClass
        session.desktop = desktop
        session.lockedHint = locked
        session.idleHint = true
        session.idleSinceMicroseconds = 1_800_000_000_250_000
        return session
    }

    @Test func aFalseLockedHintIsUnlockedOnlyOnDesktopsThatKeepIt() {
        for desktop in ["GNOME", "gnome-xorg", "ubuntu", "ubuntu:GNOME", "pop", "KDE", "plasma", "plasmawayland"] {
            #expect(SessionProbe.facts(properties(desktop: desktop)).locked == .unlocked, "\(desktop)")
        }
        for desktop in ["", "i3", "sway", "XFCE", "xfce", "LXQt", "gnomish", "MATE"] {
            #expect(SessionProbe.facts(properties(desktop: desktop)).locked == .unknown, "\(desktop)")
        }
        // A hint set is believed anywhere.
        #expect(SessionProbe.facts(properties(desktop: "i3", locked: true)).locked == .locked)
        #expect(SessionProbe.facts(properties(type: "x11", desktop: "GNOME", locked: true)).locked == .locked)
    }

    @Test func onlyAGraphicalUserSessionHasAScreenToLock() {
        for (type, sessionClass) in [
            ("tty", "user"), ("unspecified", "user"), ("wayland", "greeter"), ("x11", "lock-screen"),
        ] {
            let facts = SessionProbe.facts(properties(type: type, sessionClass: sessionClass, desktop: "GNOME"))
            #expect(facts.locked == .notApplicable && !facts.graphical, "\(type) \(sessionClass)")
        }
    }

    @Test func timesAreMicrosecondsSinceTheEpochAndIdleSinceOnlyWhileIdle() {
        var session = properties(desktop: "GNOME")
        session.timestampMicroseconds = 1_700_000_000_000_000
        let facts = SessionProbe.facts(session)
        #expect(facts.idleSince == Date(timeIntervalSince1970: 1_800_000_000.25))
        #expect(facts.since == Date(timeIntervalSince1970: 1_700_000_000))
        #expect(facts.desktop == "GNOME" && facts.remoteHost == nil)
        session.idleHint = false
        session.timestampMicroseconds = 0
        let active = SessionProbe.facts(session)
        #expect(active.idleSince == nil && active.since == nil && !active.idle)
        #expect(SessionProbe.facts(properties(desktop: "")).desktop == nil)
    }
}
