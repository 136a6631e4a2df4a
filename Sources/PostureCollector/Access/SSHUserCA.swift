import Crypto
import PostureAccess
import _CryptoExtras

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The collector's SSH user CA (Ed25519): `ssh-user-ca.key` in the state directory (PKCS#8 PEM, 0600),
/// created on first start. Target hosts trust its public key (`posture-collector ssh ca`) through sshd's
/// `TrustedUserCAKeys`. Every collector of a fleet holds the same file, as it holds `ca.key`.
public enum SSHUserCA {
    static let fileName = "ssh-user-ca.key"

    /// The CA's public key as a `TrustedUserCAKeys` line (created first if absent).
    public static func publicKeyLine(stateDirectory: String) throws -> String {
        try loadOrCreate(stateDirectory: stateDirectory).publicKeyLine(comment: "posture-ssh-user-ca")
    }

    static func loadOrCreate(stateDirectory: String) throws -> SSHCertificateAuthority {
        let path = stateDirectory + "/" + fileName
        if !FileManager.default.fileExists(atPath: path) {
            try StateDirectory.write(Curve25519.Signing.PrivateKey().pemRepresentation, to: path, mode: 0o600)
        }
        do {
            let key = try Curve25519.Signing.PrivateKey(
                pemRepresentation: String(contentsOfFile: path, encoding: .utf8))
            return try SSHCertificateAuthority(rawRepresentation: Array(key.rawRepresentation))
        } catch {
            throw CollectorError(
                .pki,
                "cannot load the SSH user CA \(path): \(error); restore it from a backup (target hosts trust its public key), or remove it to make a new one and install the new key on every target host (posture-collector ssh ca)"
            )
        }
    }
}
