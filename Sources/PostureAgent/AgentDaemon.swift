import Logging
import PostureLinux
import PostureModel
import ServiceLifecycle
import SystemdNotify

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `postured run` under systemd: waits, quietly, until the device is enrolled (by `postured enroll`, or by
/// itself from `/etc/posture/enrollment.conf`), then runs the `Agent`. Tells systemd it is ready at once
/// (a waiting agent is a healthy one, not a crash loop), keeps `systemctl status` saying what it waits for,
/// and feeds the watchdog only while the agent's actor answers.
public struct AgentDaemon: Service {
    public var state: AgentState
    public var options: AgentOptions
    public var enrollmentConfigPath: String?
    public var logger: Logger
    /// How often a device that is not enrolled looks again.
    public var enrollmentPoll: Duration = .seconds(10)

    public init(state: AgentState, options: AgentOptions, enrollmentConfigPath: String?, logger: Logger) {
        self.state = state
        self.options = options
        self.enrollmentConfigPath = enrollmentConfigPath
        self.logger = logger
    }

    public func run() async throws {
        if try state.enrollment() == nil {
            SystemdNotifier.ready(status: "not enrolled: waiting for enrollment")
            let enrolled = await Self.feedingWatchdog(while: { true }, run: { await waitForEnrollment() })
            guard enrolled else { return }
        }
        let agent = try Agent(state: state, options: options, logger: logger)
        await agent.reestablish()
        SystemdNotifier.ready(status: "reporting as \(agent.enrollment.identity) to \(agent.enrollment.devicesURL)")
        try await Self.feedingWatchdog(while: { await agent.isResponsive() }, run: { try await agent.run() })
        SystemdNotifier.stopping()
    }

    /// Runs `body` while a child task feeds systemd's watchdog (WatchdogSec=) for as long as `healthy` says so.
    private static func feedingWatchdog<T: Sendable>(
        while healthy: @escaping @Sendable () async -> Bool, run body: () async throws -> T
    ) async rethrows -> T {
        try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
            group.addTask { await SystemdNotifier.feedWatchdog(alive: healthy) }
            defer { group.cancelAll() }
            return try await body()
        }
    }

    /// True once enrolled; false when shutdown came first. Logs a cause once, not at every poll.
    private func waitForEnrollment() async -> Bool {
        var lastMessage = ""
        func say(_ message: String, error: Bool = false) {
            guard message != lastMessage else { return }
            lastMessage = message
            if error { logger.error("\(message)") } else { logger.notice("\(message)") }
            SystemdNotifier.status(message)
        }
        while !Task.isShuttingDownGracefully {
            if (try? state.enrollment()) != nil {
                logger.notice("enrolled by `postured enroll`; starting")
                return true
            }
            do {
                if let path = enrollmentConfigPath, let config = try EnrollmentConfig.load(path: path) {
                    say("enrolling with \(config.collector) (from \(path))")
                    var enroller = Enroller(
                        state: state, collectorURL: config.collector, token: config.token,
                        trust: .fingerprint(config.caFingerprint), root: options.root, force: false)
                    // Where the key went when it is not where `auto` hoped (no TPM, no libtss2, an untrusted TPM).
                    enroller.notice = { [logger] in logger.warning("\($0)") }
                    let enrollment = try await enroller.enroll()
                    logger.notice("enrolled as \(enrollment.identity); reports go to \(enrollment.devicesURL)")
                    return true
                }
                say(
                    "not enrolled: waiting for `postured enroll --collector URL --token TOKEN --ca-fingerprint PIN`"
                        + (enrollmentConfigPath.map { " or for collector, token and ca-fingerprint in \($0)" } ?? ""))
            } catch let error as AgentError where error.code == .alreadyEnrolled {
                return true
            } catch {
                say("not enrolled: \(error)", error: true)
            }
            // Half the poll plus up to the whole of it again: a fleet of new machines imaged together, or
            // waiting out a collector outage, does not come back in step.
            let wait = enrollmentPoll / 2 + enrollmentPoll * Double.random(in: 0...1)
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
        }
        return false
    }
}
