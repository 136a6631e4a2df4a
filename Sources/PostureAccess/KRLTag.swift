import Crypto

extension SSHKeyRevocationList {
    /// The HTTP entity tag of a KRL's bytes: the agent on a target host asks with the tag of the file it
    /// holds, and the collector answers 304 while its KRL has the same bytes. The collector's KRLs carry no
    /// time, so they are the same bytes while they revoke the same serials.
    public static func tag(of bytes: [UInt8]) -> String {
        let digest = SHA256.hash(data: bytes)
        return "\"" + digest.prefix(12).map { byte in String(byte, radix: 16).leftPadded(to: 2) }.joined() + "\""
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
