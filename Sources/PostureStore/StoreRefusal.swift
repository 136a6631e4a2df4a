import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Why the store refused a write, as the facts that decided it. The store says nothing to a person: the
/// collector words each case for the device, the API and the command line (`StoreRefusal+Wording.swift`).
public enum StoreRefusal: Error, Sendable, Equatable {
    // Attestations (`AttestationAcceptance`)
    case deviceUnknown(device: String)
    case deviceInactive(device: String, status: String)
    case alreadyAccepted(device: String, sequence: UInt64)
    case nonceReused(sequence: UInt64, last: UInt64)
    case sequenceNotIncreasing(sequence: UInt64, last: UInt64)
    case nonceUnknown(device: String)
    /// Signed `seconds` before its nonce was issued, more than `skew`.
    case signedBeforeNonce(seconds: Int, skew: Int)
    /// A nonce's first report signed `seconds` after the nonce expired.
    case nonceExpired(seconds: Int)
    /// Signed `seconds` after a newer nonce replaced its own, more than `skew`.
    case nonceSuperseded(seconds: Int, skew: Int)
    // Enrollment (`EnrollmentDecision`)
    case tokenUnknown
    case tokenExpired(at: Date)
    case tokenUsed
    case machineEnrolled(machineID: String, devices: [String])
    // Credentials
    case credentialNameTaken(name: String, holder: String)

    /// The refusal code the collector answers with.
    public var code: AttestationRefusal.Code {
        switch self {
        case .deviceUnknown: .deviceUnknown
        case .deviceInactive: .deviceRevoked
        case .alreadyAccepted: .alreadyAccepted
        case .nonceReused: .nonceReused
        case .sequenceNotIncreasing: .sequenceNotIncreasing
        case .nonceUnknown: .nonceUnknown
        case .signedBeforeNonce: .staleIssueTime
        case .nonceExpired: .nonceExpired
        case .nonceSuperseded: .nonceSuperseded
        case .tokenUnknown: .tokenInvalid
        case .tokenExpired: .tokenExpired
        case .tokenUsed: .tokenUsed
        case .machineEnrolled: .machineAlreadyEnrolled
        case .credentialNameTaken: .conflict
        }
    }
}
