import ArgumentParser
import PostureModel
import PostureOperator
import PostureSystem

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `posturectl ssh certificate`: a posture-bound SSH certificate for the caller's key, asked of the local
/// agent, written where stock `ssh` finds it.
public struct SSHCommands: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "ssh", abstract: "Posture-bound SSH certificates.", subcommands: [Certificate.self])

    public struct Certificate: AsyncParsableCommand {
        public init() {}

        public static let configuration = CommandConfiguration(
            abstract: "Get a short-lived SSH certificate for your key under a grant (while this device is compliant).",
            discussion: """
                Proves that you hold the key (ssh-keygen -Y sign, which may ask for its passphrase or use
                ssh-agent), asks the local agent, which asks the collector; the collector checks the grant
                (policy access.grants) and this device's verdict. The certificate is written next to the key
                (id_ed25519 -> id_ed25519-cert.pub), where ssh uses it with the key. It ends at the grant's
                duration, or earlier when the device's verdict would, and target hosts refuse it as soon as
                this device turns non-compliant.
                Exit codes: 0 written; 1 refused or failed (the reason is printed); 2 bad arguments.
                """)

        @Option(help: "The grant to ask for (posture-collector policy check lists the policy's grants).")
        var grant: String
        @Option(help: ArgumentHelp("Your public key (default ~/.ssh/id_ed25519.pub).", valueName: "file"))
        var key: String?
        @Option(name: .customLong("for"), help: ArgumentHelp("Shorter than the grant's duration, e.g. 10m."))
        var duration: String?
        @Option(help: ArgumentHelp("The agent's access socket.", valueName: "path"))
        var socket: String = "/run/postured/access.sock"

        public func run() async throws {
            let uid = geteuid()
            guard let user = UserDatabase.name(uid: uid) else {
                throw failure("uid \(uid) has no user name in the user database")
            }
            let home = ProcessInfo.processInfo.environment["HOME"] ?? UserDatabase.home(uid: uid) ?? "/"
            let publicPath = key.map { $0.hasSuffix(".pub") ? $0 : $0 + ".pub" } ?? home + "/.ssh/id_ed25519.pub"
            let privatePath = String(publicPath.dropLast(4))
            guard let publicKey = try? String(contentsOfFile: publicPath, encoding: .utf8) else {
                throw failure("cannot read \(publicPath): make a key with ssh-keygen -t ed25519, or give --key")
            }
            let keyLine = String(publicKey.split(whereSeparator: \.isNewline).first ?? "")
            let signedAt = Int64(Date().timeIntervalSince1970)
            let signature = try prove(
                LocalSSHRequest.signedText(user: user, grant: grant, signedAt: signedAt, publicKey: keyLine),
                with: FileManager.default.fileExists(atPath: privatePath) ? privatePath : publicPath)
            let request = LocalSSHRequest(
                grant: grant, publicKey: keyLine, duration: duration, signedAt: signedAt, signature: signature)
            let answer = try ask(request, socket)
            guard let issued = answer.issued else { throw failure(answer.error ?? "refused") }
            let certificatePath = privatePath + "-cert.pub"
            do {
                try DurableFile.write(Array((issued.certificate + "\n").utf8), to: certificatePath, mode: 0o644)
            } catch {
                throw failure("cannot write \(certificatePath): \(error)")
            }
            let minutes = Int(issued.validBefore.timeIntervalSinceNow / 60)
            print(
                "\(certificatePath): serial \(issued.serial), principals \(issued.principals.joined(separator: ",")), valid until \(issued.validBefore.formatted(.iso8601)) (\(minutes) min)"
            )
        }

        /// An `ssh-keygen -Y sign` signature over `text` by the key at `keyPath`.
        private func prove(_ text: String, with keyPath: String) throws -> String {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "posturectl-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
            defer { try? FileManager.default.removeItem(at: directory) }
            let message = directory.appendingPathComponent("request").path
            try Data(text.utf8).write(to: URL(fileURLWithPath: message))
            let status = try LocalExchange.runInForeground([
                "ssh-keygen", "-q", "-Y", "sign", "-n", LocalSSHRequest.namespace, "-f", keyPath, message,
            ])
            guard status == 0, let signature = try? String(contentsOfFile: message + ".sig", encoding: .utf8) else {
                throw failure("ssh-keygen -Y sign -f \(keyPath) failed (exit \(status)): the key must be yours")
            }
            return signature
        }
    }
}
