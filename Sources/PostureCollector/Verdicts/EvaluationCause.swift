/// Why a device's verdict is evaluated again: logged and stored with a change, and told to Shared Signals
/// receivers as who initiated it (CAEP `initiating_entity`).
enum EvaluationCause: Sendable, CustomStringConvertible {
    /// The collector started and evaluated what it loaded.
    case start
    case enrollment
    /// A new attestation, by its sequence number.
    case attestation(UInt64)
    /// Only time changed: a report grew stale, a waiver expired.
    case time
    /// The policy file changed; its version.
    case policy(String)
    /// An operator's quarantine, release, revocation or waiver (`OperatorAction.action`).
    case operatorAction(action: String, actor: String, reason: String)

    var description: String {
        switch self {
        case .start: "collector start"
        case .enrollment: "enrollment"
        case .attestation(let sequence): "attestation \(sequence)"
        case .time: "time"
        case .policy(let version): "policy \(version)"
        case .operatorAction(let action, let actor, let reason): "\(action) by \(actor): \(reason)"
        }
    }

    /// CAEP 1.0 §3.1 `initiating_entity`: an operator's action is `admin`; what the policy decided from
    /// the device's facts or the clock is `policy`; the collector's own bookkeeping is `system`.
    var initiatingEntity: String {
        switch self {
        case .operatorAction: "admin"
        case .attestation, .time, .policy: "policy"
        case .start, .enrollment: "system"
        }
    }
}
