import CSystemd

/// The service manager's notification socket (`sd_notify`): readiness for `Type=notify` units, a status
/// line for `systemctl status`, and watchdog keep-alives for `WatchdogSec=`. Outside systemd
/// (`$NOTIFY_SOCKET` unset) every call is a no-op, so the same binary runs by hand and under a unit.
public enum SystemdNotifier {
    /// `READY=1` with a status line: the service is up (a `Type=notify` unit counts as started now).
    public static func ready(status: String) { send("READY=1\nSTATUS=\(status)") }

    /// A status line shown by `systemctl status` (what the service is doing or waiting for).
    public static func status(_ text: String) { send("STATUS=\(text)") }

    /// `STOPPING=1`: shutdown has begun.
    public static func stopping() { send("STOPPING=1") }

    /// `WATCHDOG=1`: the service is alive; systemd restarts it when these stop for `WatchdogSec`.
    public static func watchdogAlive() { send("WATCHDOG=1") }

    /// How often systemd expects `WATCHDOG=1` (`WatchdogSec=` of this unit), or nil when no watchdog is set.
    public static var watchdogInterval: Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(microseconds))
    }

    private static func send(_ state: String) {
        _ = sd_notify(0, state)
    }
}

extension SystemdNotifier {
    /// Sends `WATCHDOG=1` every half `WatchdogSec` while `alive()` answers true, until the task is cancelled.
    /// `alive` should exercise what could hang (an actor's executor, the store), so a wedged service stops
    /// feeding the watchdog and systemd restarts it. Without a watchdog it only waits for cancellation.
    public static func feedWatchdog(alive: @Sendable () async -> Bool) async {
        guard let interval = watchdogInterval else {
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            return
        }
        while !Task.isCancelled {
            if await alive() { watchdogAlive() }
            try? await Task.sleep(for: interval / 2)
        }
    }
}
