import ArgumentParser
import Glibc
import OpenAPIRuntime
import PostureAPI
import PostureClient
import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The collector's fleet API over HTTPS (TLS 1.3, bearer token), for posturectl's operator commands: the
/// client generated from openapi.yaml (`PostureAPI.Client`) over `CollectorTransport`. Refusals become
/// `OperatorError`s with the documented exit codes.
struct FleetAPI {
    let settings: OperatorSettings

    /// The operations as openapi.yaml declares them.
    var client: Client {
        get throws {
            guard let url = URL(string: settings.collector) else {
                throw OperatorError("--collector \(settings.collector) is not a URL", exitCode: Exit.usage)
            }
            return Client(serverURL: url, transport: CollectorTransport(api: self))
        }
    }

    /// Exit codes (also in `posturectl --help`).
    enum Exit {
        static let failure: Int32 = 1
        static let refused: Int32 = 4
        static let notFound: Int32 = 5
        static let conflict: Int32 = 6
        static let auditBroken: Int32 = 7
        static let usage: Int32 = 64
    }

    /// Runs `body` against the collector, printing an `OperatorError` and exiting with its code.
    static func run(_ options: OperatorOptions, _ body: (FleetAPI) async throws -> Void) async throws {
        do {
            try await body(FleetAPI(settings: try options.resolve()))
        } catch let error as OperatorError {
            printError(error.message)
            throw ExitCode(error.exitCode)
        } catch let error as ClientError {
            // The transport's own refusal, or an answer the generated client could not read.
            let reason =
                error.underlyingError as? OperatorError
                ?? OperatorError(
                    "the collector's answer to \(error.operationID) is not what this posturectl (\(postureVersion)) expects: \(error.underlyingError); are both the same version?"
                )
            printError(reason.message)
            throw ExitCode(reason.exitCode)
        }
    }

    /// `posturectl: <message>` on standard error, made safe for a terminal.
    static func printError(_ message: String) {
        let line = Array("posturectl: \(TextTable.terminalSafe(message))\n".utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    var authorization: [(String, String)] { [("Authorization", "Bearer " + settings.token)] }

    func call<Answer>(_ send: (CollectorClient) async -> CollectorAnswer<Answer>) async throws -> Answer {
        let client: CollectorClient
        do {
            client = try CollectorClient(baseURL: settings.collector, caPEM: settings.caPEM)
        } catch {
            throw OperatorError(
                "cannot use the CA certificate \(settings.caPath ?? "-"): \(error); it must be the collector's ca.crt, PEM",
                exitCode: Exit.usage)
        }
        let answer = await send(client)
        await client.shutdown()
        switch answer {
        case .accepted(let answer): return answer
        case .refused(let error, let status):
            let fix =
                switch status {
                case 401:
                    " (check the token: `posture-collector apitoken list` on the collector; create one with `posture-collector apitoken create`)"
                case 403: " (the token needs that scope; an admin can create one with `--scope`)"
                default: ""
                }
            let code: Int32 =
                switch status {
                case 401, 403: Exit.refused
                case 404: Exit.notFound
                case 409: Exit.conflict
                default: Exit.failure
                }
            throw OperatorError("the collector refused: \(error.error): \(error.message)\(fix)", exitCode: code)
        case .busy(let reason, let retryAfter):
            throw OperatorError("\(reason); try again in \(retryAfter)")
        case .unavailable(let reason) where reason.hasPrefix("the collector answered"):
            throw OperatorError("\(reason); its journal says more: `journalctl -u posture-collector`")
        case .unavailable(let reason):
            throw OperatorError(
                "cannot reach the collector at \(settings.collector): \(reason); check the URL and that `systemctl status posture-collector` is active (with a private CA, pass --ca FILE: the collector's ca.crt)"
            )
        }
    }
}
