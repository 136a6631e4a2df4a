import PostureModel
import PostureStore

/// The store's refusals in words: what the device, the API client or the operator reads, with the fix.
extension StoreRefusal {
    var refusal: AttestationRefusal { AttestationRefusal(code, message) }

    var message: String {
        switch self {
        case .deviceUnknown(let device): "device \(device) is not enrolled here"
        case .deviceInactive(let device, let status): "device \(device) is \(status); enroll it again"
        case .alreadyAccepted(let device, let sequence):
            "report \(sequence) of device \(device) is stored already; nothing to resend"
        case .nonceReused(let sequence, let last):
            "nonce already used by an accepted report and sequence \(sequence) is not after \(last): a replay"
        case .sequenceNotIncreasing(let sequence, let last):
            "sequence \(sequence) is not greater than the last accepted, \(last)"
        case .nonceUnknown(let device):
            "the nonce was not issued to device \(device); fetch one with GET /v1/nonce"
        case .signedBeforeNonce(let seconds, let skew):
            "the report was signed \(seconds) s before its nonce was issued (skew allowed: \(skew) s)"
        case .nonceExpired(let seconds):
            "the nonce expired \(seconds) s before the report was signed; fetch one with GET /v1/nonce"
        case .nonceSuperseded(let seconds, let skew):
            "the report was signed \(seconds) s after a newer nonce replaced its own (skew allowed: \(skew) s); sign it again with the newest nonce (GET /v1/nonce)"
        case .tokenUnknown:
            "the enrollment token is not known to this collector; create one with `posture-collector token create`"
        case .tokenExpired(let at):
            "the enrollment token expired at \(at); create a new one with `posture-collector token create`"
        case .tokenUsed:
            "the one-time enrollment token was already used; create another with `posture-collector token create`"
        case .machineEnrolled(let machineID, let devices):
            "machine-id \(machineID) is already enrolled as device \(devices.joined(separator: ", ")); revoke it (`posture-collector devices revoke ID --reason WHY`) or create a token with --allow-reenroll"
        case .credentialNameTaken(let name, let holder):
            "an active API credential is already named '\(name)' (id \(holder)); names are the actor in the audit trail, so choose another name or revoke it first (POST /v1/api-tokens/\(holder)/revoke, or posture-collector apitoken revoke \(holder))"
        }
    }
}

/// As the command line prints it: the code, then the words (`conflict: an active API credential …`).
extension StoreRefusal: CustomStringConvertible {
    public var description: String { refusal.description }
}
