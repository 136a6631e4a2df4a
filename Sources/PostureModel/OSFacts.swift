/// Operating system identity and state.
public struct OSFacts: Sendable, Codable, Equatable {
    /// Every field of os-release(5), unquoted and unescaped (`ID`, `VERSION_ID`, `PRETTY_NAME`, …).
    public var osRelease: Fact<[String: String]>
    /// `uname -r`, e.g. `6.1.0-27-amd64`.
    public var kernelRelease: Fact<String>
    /// `uname -v`, e.g. `#1 SMP PREEMPT_DYNAMIC Debian 6.1.115-1 (2024-11-01)`.
    public var kernelVersion: Fact<String>
    /// `uname -m`, e.g. `x86_64`.
    public var architecture: Fact<String>
    /// `/etc/machine-id`: 32 lowercase hex digits.
    public var machineID: Fact<String>
    /// This boot's random UUID (`/proc/sys/kernel/random/boot_id`).
    public var bootID: Fact<String>
    /// Seconds since boot (`/proc/uptime`).
    public var uptimeSeconds: Fact<Double>
    public var rebootRequired: Fact<RebootRequired>

    public init(
        osRelease: Fact<[String: String]>,
        kernelRelease: Fact<String>,
        kernelVersion: Fact<String>,
        architecture: Fact<String>,
        machineID: Fact<String>,
        bootID: Fact<String>,
        uptimeSeconds: Fact<Double>,
        rebootRequired: Fact<RebootRequired>
    ) {
        self.osRelease = osRelease
        self.kernelRelease = kernelRelease
        self.kernelVersion = kernelVersion
        self.architecture = architecture
        self.machineID = machineID
        self.bootID = bootID
        self.uptimeSeconds = uptimeSeconds
        self.rebootRequired = rebootRequired
    }
}

public struct RebootRequired: Sendable, Codable, Equatable {
    public var required: Bool
    /// Why: the package manager's flag file, and/or a newer kernel installed than the one running.
    public var reasons: [String]

    public init(required: Bool, reasons: [String]) {
        self.required = required
        self.reasons = reasons
    }
}
