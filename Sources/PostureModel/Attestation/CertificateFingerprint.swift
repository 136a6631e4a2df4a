import Crypto
import SwiftASN1

/// How a device certificate is named in `sha256:HEX` look-ups: the SHA-256 of its DER in lowercase hex,
/// what `openssl x509 -outform der | sha256sum` prints.
public enum CertificateFingerprint {
    public static func sha256(pem: String) -> String? {
        guard let document = try? PEMDocument(pemString: pem) else { return nil }
        return Hex.encode(SHA256.hash(data: document.derBytes))
    }
}
