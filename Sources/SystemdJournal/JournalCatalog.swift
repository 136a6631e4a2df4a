/// Every MESSAGE_ID the collector and the agent write, with what `journalctl -x` shows for it: the one
/// source of `packaging/systemd/posture.catalog` (a test keeps the shipped file equal to `render()`).
/// Refusals are keyed by their stable code (PROTOCOL.md), lifecycle events by a name in `posture.event`.
public enum JournalCatalog {
    public struct Entry: Sendable, Equatable {
        public var id: String
        /// `refusal.<code>` or `event.<name>`.
        public var key: String
        public var subject: String
        public var text: String
    }

    public static func messageID(code: String?, event: String?) -> String? {
        if let event, let entry = byKey["event.\(event)"] { return entry.id }
        if let code, let entry = byKey["refusal.\(code)"] { return entry.id }
        return nil
    }

    static let byKey = Dictionary(uniqueKeysWithValues: entries.map { ($0.key, $0) })

    private static func refusal(_ code: String, _ id: String, _ subject: String, _ text: String) -> Entry {
        Entry(
            id: id, key: "refusal.\(code)", subject: "Posture refused a request: \(code) (\(subject))",
            text: text
                + " The entry's POSTURE_DEVICE names the device (or - before one is known) and POSTURE_PEER the address; every refusal code is listed in the collector's PROTOCOL.md. Refusals are recorded as security events (posture-collector events) at most once per source, code and minute."
        )
    }

    private static func event(_ name: String, _ id: String, _ subject: String, _ text: String) -> Entry {
        Entry(id: id, key: "event.\(name)", subject: subject, text: text)
    }

    public static let entries: [Entry] = [
        refusal(
            "malformed_request", "ac2f6e17299c4b05bc46a01e14f0f44f", "not the JSON the route expects",
            "The body is not the JSON this route takes, or an enrollment's machineID is not exactly the 32 lowercase hex digits of /etc/machine-id, or its hostname is over 253 bytes or has control characters. A genuine agent never sends this: check the client's version."
        ),
        refusal(
            "payload_too_large", "69ad1ecd18cc45f2a71a40ada83a152a", "body over the limit",
            "The body is larger than attestations.maxBodyBytes in /etc/posture/collector.yaml. Raise the limit only if real reports need it."
        ),
        refusal(
            "malformed_jws", "339ae8128abc4ea3a77c750c042c8d61", "not a compact ES256 JWS",
            "The attestation is not a compact JWS with a base64url JSON header and a 64-byte signature, or its header has a duplicate member name or crit."
        ),
        refusal(
            "unsupported_algorithm", "f6cebb0851ca4f508c5c2433c8d01036", "alg is not ES256",
            "Only ES256 is accepted for attestations."),
        refusal(
            "key_mismatch", "79e6bdadb36245a08299155df2a07c6f", "signed by another key",
            "The JWS kid is not the thumbprint of the client certificate's key, or a renewal CSR carries another key than the certificate. A stolen certificate used with another key looks like this."
        ),
        refusal(
            "bad_signature", "1459f11d96ef4408b8171a0174317436", "the signature does not verify",
            "The attestation's signature does not verify under the device certificate's key: tampered in transit or forged."
        ),
        refusal(
            "malformed_payload", "67644c618f45442eb56586eed3f2599b", "not an attestation, or a value out of range",
            "The signed payload is not an attestation, has a duplicate member name, nests too deep, or has a value outside its documented range (Sources/PostureModel/SCHEMA.md, Ranges). The message names the field. A genuine agent never sends this; a device that does is suspect."
        ),
        refusal(
            "unsupported_schema", "5b7be71f736548aaa17809341bd3fae6", "unknown schema version",
            "The agent is newer than this collector: upgrade the collector first."),
        refusal(
            "device_mismatch", "5fbf442b12e947ff8ddb0a8acbacbd16", "payload names another device",
            "The payload names a different device than the client certificate: a replay from another device."),
        refusal(
            "nonce_unknown", "401a8d3f37d044e98a3c35e6bdbbd534", "nonce never issued",
            "The nonce was never issued to this device. The agent fetches a fresh one and signs again."),
        refusal(
            "nonce_expired", "dc68dc0305e7423da0f7004357fb7a58", "nonce expired",
            "The nonce's first report was signed after it expired (attestations.nonceLifetime). The agent signs again."),
        refusal(
            "nonce_superseded", "667333a3390d4a81a177b1da0c47a62f", "signed under a replaced nonce",
            "The report was signed after a newer nonce had replaced its own (beyond attestations.skew), typically a backlog spooled during an outage after an answer was lost. The agent signs the same sequence again under a fresh nonce: nothing is lost."
        ),
        refusal(
            "nonce_reused", "69de041fa12e499fa193f2a98c357f75", "a replay",
            "The nonce was already used by an accepted report and this sequence is not stored: a replayed report. The agent keeps it in spool/rejected/."
        ),
        refusal(
            "already_accepted", "3e797abfe5b247f7af8104296af55a21", "report stored already",
            "A report with this sequence from this device is stored already: a resend after an answer was lost (a crash, a network cut). The agent drops its copy."
        ),
        refusal(
            "sequence_not_increasing", "7f4221e05c8143028286303fed8d5b50", "sequence not increasing",
            "The report's sequence is not above the last one accepted from this device."),
        refusal(
            "stale_issue_time", "9796379aa2f1439ab12e42d0f9d090af", "signed before its nonce",
            "The report was signed before its nonce was issued, beyond attestations.skew: check the device's clock (timedatectl)."
        ),
        refusal(
            "future_issue_time", "d09bdde06b434b9f9dfd8ba6a794652f", "signed in the future",
            "issuedAt is ahead of the collector's clock beyond attestations.skew: check the device's and the collector's time synchronisation."
        ),
        refusal(
            "certificate_required", "eab7700595314cffa16af2732521e445", "no client certificate",
            "No usable client certificate on the connection."),
        refusal(
            "device_revoked", "6bfa1215ac4f4967b27e4f7f83f7e828", "device revoked",
            "The device was revoked or replaced by a re-enrollment; its connections fail at the handshake from now on."),
        refusal("device_unknown", "bdf919aab64e4adeb60b3567da7fab2a", "no such device", "No such device is enrolled."),
        refusal(
            "token_invalid", "9b5f9a2ad86c400bb7755c5be67521b5", "enrollment token unknown",
            "The enrollment token is unknown: create one with posture-collector token create."),
        refusal(
            "token_expired", "ed266d7233a4402884defe4a11b343c3", "enrollment token expired",
            "The enrollment token expired: create a new one (posture-collector token create --ttl 24h)."),
        refusal(
            "token_used", "b88f778232c6480eb3f363948cc1afb7", "one-time token already used",
            "The one-time enrollment token was already used; use --reusable for a fleet rollout."),
        refusal(
            "machine_already_enrolled", "3251ee25cc4d448a9f6a6f41869bb274", "machine already enrolled",
            "This machine-id is enrolled already: revoke the old device, or use a token created with --allow-reenroll."),
        refusal(
            "bad_csr", "53354186d8794879b5ab16035e6dd2a3", "bad certificate request",
            "The CSR is unparsable, not self-signed, or not P-256."),
        refusal(
            "tpm_untrusted", "108fb08580d54525b9e91aa9d4ce161d", "TPM endorsement not trusted",
            "The TPM's endorsement key certificate does not chain to a certificate in tpm.endorsementRoots (or none is configured): add the TPM maker's EK CA to collector.yaml, or enroll the device with --tpm off."
        ),
        refusal(
            "tpm_evidence_invalid", "fd48f9d9e1e64d0cba9b92c70555ae9b", "TPM evidence invalid",
            "TPM evidence that does not prove what it claims: a credential not activated by the endorsed TPM, a device key not certified by its attestation key, or not bound to its TPM; or an attestation of a TPM device without a quote, with a quote made for another nonce or report (replayed), signed by another attestation key, or over PCR values other than the report's. The message names the check."
        ),
        refusal(
            "access_refused", "94e97d2a56a84a99841d835a27dd3367", "just-in-time access refused",
            "A request for an SSH certificate or a sudo grant that the grant (policy access.grants) or the device's verdict does not allow; the message starts with the reason (unknown-grant, not-admitted, device-not-compliant, risk-too-high...)."
        ),
        refusal(
            "unauthorized", "6c3d86282ca24a57874e2b69b677113f", "no valid API credential",
            "No API token, or an unknown, revoked or expired one: posture-collector apitoken create."),
        refusal(
            "insufficient_scope", "2191381e464841b4b9580b5f7de6dd85", "the credential lacks the scope",
            "The API token lacks the route's scope; create one with the scope the message names."),
        refusal(
            "not_found", "9c8dbb5d6a224f09913cbdd13697216d", "not found",
            "No such device, waiver, token or stream."),
        refusal(
            "conflict", "a8e790deb9df4ae8860b01544c15e266", "does not apply, or ambiguous",
            "The action does not apply as things are, or a hostname:/machine-id: reference names several active devices (the message lists them: ask by device ID)."
        ),
        refusal(
            "method_not_allowed", "7848485bd5834501aff03ca94fa8d1ba", "method not allowed",
            "The path exists but not with this method (Allow lists those that do)."),
        refusal(
            "internal_error", "2d9aab904fca4ea4bd9a1e05bb9725c7", "the collector failed",
            "The collector could not do its part, usually storage (disk full, permissions on /var/lib/posture-collector). Logged once per cause and minute. Agents keep their reports and retry; check df and journalctl -u posture-collector."
        ),
        refusal(
            "overloaded", "1d269f4e90f64add823e2081b00f3b55", "too much waiting for the store",
            "More attestations are waiting for the store than limits.storeQueueDepth: devices were answered 429 with Retry-After and retry with jitter, losing nothing. Sustained, the store is too slow for the fleet: check the disk, or add collectors."
        ),
        event(
            "collector-started", "4d2cf2834b7f4868869fb703d1965923", "Posture collector listening",
            "The collector bound its listeners (enrollment, devices, api) and serves. /readyz tells when it can take attestations."
        ),
        event(
            "collector-stopped", "b59bf8432e194ccb952bfa5a2eaaf95d", "Posture collector stopped",
            "The collector stopped after SIGTERM or SIGINT, having finished the requests in flight."),
        event(
            "verdicts-ready", "c48451d694474e838c7ba49ce7f8c255", "Posture verdicts ready",
            "Every device was loaded and evaluated under the policy; verdicts are served."),
        event(
            "device-enrolled", "5c290784c1314e618c2393714ff0bd22", "Posture device enrolled",
            "A device enrolled with a token and received its certificate. POSTURE_DEVICE, POSTURE_MACHINE_ID and POSTURE_HOSTNAME name it."
        ),
        event(
            "verdict-changed", "78dae52eb8e34cfea84837d6ee9d0939", "Posture verdict changed",
            "A device's compliance verdict changed; policy engines are told (long-poll, Shared Signals). posture-collector devices show POSTURE_DEVICE says why."
        ),
        event(
            "server-certificate-renewed", "4bd46f0de9904e29b30ce61691d351ca",
            "Posture collector server certificate replaced",
            "The collector's TLS server certificate was renewed in place (tls.serverCertificateLifetime) or reloaded from tls.certificate/tls.key; new handshakes get it, open connections keep theirs."
        ),
        event(
            "signing-keys-reloaded", "599a3302ccf94a1e88973550ee6315ad", "Posture signing-key schedule reloaded",
            "The collector read a new signing-key schedule (posture-collector keys rotate). posture-collector keys list shows what signs and what is published."
        ),
        event(
            "ssh-certificate-issued", "bbd1bc4b35e844d2aca15d7190815245", "Posture SSH certificate issued",
            "A user of a compliant device was given a posture-bound SSH certificate under a grant (policy access.grants). POSTURE_USER, POSTURE_GRANT and POSTURE_SERIAL name it; target hosts refuse it once the device turns non-compliant (the KRL), and it expires by itself. posture-collector audit lists every grant and refusal."
        ),
        event(
            "ssh-certificate-revoked", "f158825d22dc404180e83080742bdc19", "Posture SSH certificate revoked",
            "An operator revoked a grant's SSH certificate (posturectl access revoke ID, or posture-collector access revoke ID): it is in the KRL from now until it expires, so target hosts refuse it at their next refresh (access.krlRefresh). POSTURE_ID is its serial; the audit trail has who and why."
        ),
        event(
            "krl-updated", "dbd106da67f44ef0806e4c1f582e45d1", "Posture SSH revocation list updated",
            "The agent wrote the collector's new KRL to the file sshd's RevokedKeys reads (access.revokedKeysFile): certificates of devices that turned non-compliant are refused from the next login on."
        ),
        event(
            "sudo-granted", "5367a682555f4e9db95064555dcd7c09", "Posture sudo granted",
            "A user of a compliant device was given time-bound sudo under a grant with approval auto (policy access.grants). POSTURE_USER, POSTURE_GRANT and POSTURE_ID name it; the device's agent writes a sudoers drop-in until the deadline. posturectl access grants lists it; the audit trail has the reason."
        ),
        event(
            "sudo-requested", "221010b0881047deaf8983acd4c1626d", "Posture sudo request waits for an operator",
            "A user asked for sudo under a grant with approval operator. Decide with posturectl access approve ID --reason WHY or posturectl access deny ID --reason WHY (POSTURE_ID); undecided requests lapse after 24 hours."
        ),
        event(
            "sudo-approved", "6a3aa95785b94fabb4f747705692cfdf", "Posture sudo request approved",
            "An operator approved a pending sudo request; it is in force from now for the duration asked, and the device's agent writes its drop-in within access.grantRefresh."
        ),
        event(
            "sudo-denied", "a774cf64dbda44859f0af3694a3e85e6", "Posture sudo request denied",
            "An operator denied a pending sudo request; the user sees it with posturectl access status."
        ),
        event(
            "sudo-expired", "783165c82b094631b32e27022c55f31d", "Posture sudo grant expired",
            "A time-bound sudo grant reached its deadline (or a request lapsed undecided); the agent removed its drop-in, and sudo refuses it by its NOTAFTER in any case."
        ),
        event(
            "sudo-revoked", "53c958d48a66432084adc22b80ad2337", "Posture sudo grant revoked",
            "A sudo grant ended before its deadline because the device no longer meets the grant's conditions (not compliant, risk too high) or the grant left the policy; the agent removes its drop-in at once."
        ),
        event(
            "sudo-grant-installed", "250ff637e83f4c81ae8a21a3dcb077ca", "Posture agent installed a sudo grant",
            "The agent wrote a sudoers drop-in (posture-grant-ID-DEADLINE in access.sudoersDirectory) after visudo -cf accepted it."
        ),
        event(
            "sudo-grant-removed", "a7ec021b0a3342f6ab17046b68962141", "Posture agent removed a sudo grant",
            "The agent removed a sudoers drop-in: its deadline passed, the collector ended the grant, or this device turned non-compliant; the message says which."
        ),
        event(
            "sudo-grant-failed", "d44460a055b04284802b3df32d02cb0f", "Posture agent could not install a sudo grant",
            "The drop-in for a sudo grant was not installed: visudo refused it, visudo is missing (install sudo) or the directory is not writable (access.sudoersDirectory, the unit's ReadWritePaths). Nothing was changed."
        ),
        event(
            "verdict-refused", "0c54563365cb42cfa490522bf9d57360", "Posture agent did not act on a verdict",
            "The agent was given a verdict it would not act on; POSTURE_REASON says why: not_a_verdict (another kind of token), unknown_key (signed by a key the agent does not hold, even after fetching the collector's), bad_signature, malformed, other_device, expired (check both clocks), replayed (older than the one acted on), key_set_invalid (enroll again). Enforcement stays as it was."
        ),
        event(
            "internal-error", "4c9e97030d0e411796d47f2579458792", "Posture collector failed a request",
            "The collector could not answer a request because of its own failure (the store, a file, a key); the client was answered 500 with the incident ID in POSTURE_INCIDENT, and this entry has the cause. Fix what it names; the client may retry."
        ),
        event(
            "jwks-fetch-failed", "9ec1bd2afcc0424192b22d973e48d614",
            "Posture could not fetch an authorization server's keys",
            "The collector could not fetch ssf.accessTokens.jwksURI from /etc/posture/collector.yaml, so Shared Signals receivers' OAuth access tokens are refused (401) until it can. Check the URL, the network path and ssf.caBundle; API tokens with ssf:manage still work."
        ),
        event(
            "stored-report-ignored", "3a688d4c53ad4cde8f50f2d0ce58c815", "Posture ignored a stored report out of range",
            "A report stored by an older collector has a value outside its documented range; it is ignored (the device's verdict is unknown) until the device reports again."
        ),
        event(
            "agent-started", "6078769c03e34d18a6301b66445b5f1f", "Posture agent started",
            "postured started reporting to its collector."),
        event(
            "agent-stopped", "2acff157352c40cfbf8cce52b76658a5", "Posture agent stopped",
            "postured stopped; reports not yet delivered stay in its spool (POSTURE_SPOOLED) and go at the next start."),
        event(
            "agent-verdict-changed", "e548cb8eeb18473b9bf25f14e7c3d091", "Posture agent learned a new verdict",
            "The collector's verdict for this device changed. postured status shows it and what enforcement does about it."
        ),
        event(
            "collector-unavailable", "737c2fb67cd14146bfb4727c7cc8a94d", "Posture collector unavailable",
            "The agent cannot reach its collector; reports stay in the spool and are delivered, in order, when it is back."
        ),
        event(
            "collector-reachable", "6c61aec283cd4bf7abdaf7be0bcb8ac9", "Posture collector reachable again",
            "The collector took the spooled reports again."),
        event(
            "certificate-renewed", "3ece30ea2c294422976a137eea20c922", "Posture device certificate renewed",
            "The agent renewed its device certificate over mutual TLS, keeping its key; it also took the collector's current CA bundle and verdict keys."
        ),
        event(
            "verdict-keys-updated", "186865d6303449cc82895dbef95dc378", "Posture agent took new verdict keys",
            "The collector rotated its verdict-signing keys; the agent took the new set over its mutual-TLS channel (no re-enrollment)."
        ),
        event(
            "report-rejected", "5fe9730e50bb472b915f3a0b7022029f", "Posture agent's report refused for good",
            "The collector refused a report for a reason a retry cannot cure; it was moved to spool/rejected. POSTURE_CODE says why."
        ),
        // The agent's enforcement records (Enforcer.MessageID), written with these IDs by the enforcer itself.
        event(
            "enforcement-decision", "5652cec4aafb43aebeeee886d8a866ba", "Posture enforcement decided",
            "The agent decided what the verdict means for local access (POSTURE_MODE: enforce, dry-run). postured status shows the state."
        ),
        event(
            "logins-blocked", "cee18461f57b40cd99f60ab5ef846ff6", "Posture blocked new logins",
            "The device is not compliant: /run/nologin was written, so pam_nologin refuses new logins of users who are not exempt."
        ),
        event(
            "session-terminated", "ce946f3342204819b3e968468a912e2e", "Posture ended a session",
            "The device is not compliant: a session of a user who is not exempt was ended through systemd-logind."),
        event(
            "access-restored", "a1fa4bbd06064b05912eb732a9a97dbb", "Posture restored access",
            "The device is compliant again: what enforcement put in place was removed, and only that."),
        event(
            "enforcement-failed", "15bd328aee5e412996e3b89614461c40", "Posture enforcement step failed",
            "An enforcement step failed (POSTURE_ERROR); it is retried with the next verdict."),
        event(
            "users-notified", "e430d47d6b574d0f9c7ab91d1d2061a7", "Posture warned logged-in users",
            "Users were warned that their sessions end after the grace period unless the device is made compliant."),
    ]

    /// The catalog file (journalctl --update-catalog), shipped as /usr/lib/systemd/catalog/posture.catalog.
    public static func render() -> String {
        var text = "# Posture: explanations for journalctl -x. Generated from JournalCatalog.swift; do not edit.\n"
        for entry in entries {
            text += "\n-- \(entry.id)\nSubject: \(entry.subject)\nDefined-By: posture\n"
            text += "Documentation: man:posture-collector(8) man:postured(8)\n\n\(entry.text)\n"
        }
        return text
    }
}
