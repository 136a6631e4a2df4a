#!/usr/bin/python3
"""Independent conformance receiver for the OpenID Shared Signals Framework 1.0.

Runs a scripted scenario against a live SSF transmitter and checks everything it
sees against SSF 1.0 (final), CAEP 1.0, the CAEP interoperability profile and
RFCs 8417 / 9493 / 8935 / 8936 / 6750.  See SPEC-NOTES.md and README.md.

Standard library only, plus PyJWT and cryptography (Debian python3-jwt,
python3-cryptography).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import http.server
import json
import os
import re
import secrets
import socket
import ssl
import sys
import tempfile
import threading
import time
import urllib.parse

try:  # Debian's python3-jwt lives in dist-packages; a pyenv python may not see it.
    import jwt  # type: ignore
except ImportError:  # pragma: no cover
    sys.path.append("/usr/lib/python3/dist-packages")
    import jwt  # type: ignore

# ---------------------------------------------------------------------------
# Constants from the specifications
# ---------------------------------------------------------------------------

EV_VERIFICATION = "https://schemas.openid.net/secevent/ssf/event-type/verification"
EV_STREAM_UPDATED = "https://schemas.openid.net/secevent/ssf/event-type/stream-updated"
EV_DCC = "https://schemas.openid.net/secevent/caep/event-type/device-compliance-change"
PUSH = "urn:ietf:rfc:8935"
POLL = "urn:ietf:rfc:8936"
OAUTH_SPEC_URN = "urn:ietf:rfc:6749"

STREAM_STATUSES = ("enabled", "paused", "disabled")                 # SSF §8.1.2.1
COMPLIANCE = ("compliant", "not-compliant")                         # CAEP §3.5.1
INITIATING_ENTITIES = ("admin", "user", "policy", "system")         # CAEP §2
TRANSMITTER_SUPPLIED = ("stream_id", "iss", "aud", "events_supported", "events_delivered",
                        "min_verification_interval", "inactivity_timeout")  # SSF §8.1.1
ENDPOINT_MEMBERS = ("configuration_endpoint", "status_endpoint", "add_subject_endpoint",
                    "remove_subject_endpoint", "verification_endpoint")
COMPLEX_MEMBERS = ("user", "device", "session", "application", "tenant", "org_unit", "group")

# format -> (required members, spec)
SUBJECT_FORMATS = {
    "account": (("uri",), "RFC 9493 §3.2.1"),
    "email": (("email",), "RFC 9493 §3.2.2"),
    "iss_sub": (("iss", "sub"), "RFC 9493 §3.2.3"),
    "opaque": (("id",), "RFC 9493 §3.2.4"),
    "phone_number": (("phone_number",), "RFC 9493 §3.2.5"),
    "did": (("url",), "RFC 9493 §3.2.6"),
    "uri": (("uri",), "RFC 9493 §3.2.7"),
    "aliases": (("identifiers",), "RFC 9493 §3.2.8"),
    "jwt_id": (("iss", "jti"), "SSF §3.5.1"),
    "saml_assertion_id": (("issuer", "assertion_id"), "SSF §3.5.2"),
    "ip-addresses": (("ip-addresses",), "SSF §3.5.3"),
}

PUSH_ERROR_CODES = ("invalid_request", "invalid_key", "invalid_issuer", "invalid_audience",
                    "authentication_failed", "access_denied", "invalid_state")

BCP47_RE = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
E164_RE = re.compile(r"^\+[1-9][0-9]{1,14}$")
UNRESERVED_RE = re.compile(r"^[A-Za-z0-9._~-]+$")

CLOCK_SKEW = 60          # seconds of tolerated clock difference
DEFAULT_MAX_AGE = 900    # an incoming SET's iat may be at most this old


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

class Report:
    """Thread-safe list of checks (hard) and warnings (advisory)."""

    def __init__(self, interop: bool = True, verbose: bool = False):
        self.interop = interop
        self.verbose = verbose
        self.checks: list[dict] = []
        self.warnings: list[dict] = []
        self._lock = threading.Lock()

    def check(self, name: str, ok: bool, detail: str = "", spec: str = "") -> bool:
        with self._lock:
            self.checks.append({"name": name, "ok": bool(ok), "detail": detail, "spec": spec})
        if self.verbose:
            print(("PASS " if ok else "FAIL ") + f"{name}: {detail} [{spec}]", flush=True)
        return bool(ok)

    def interop_check(self, name: str, ok: bool, detail: str = "", spec: str = "") -> bool:
        """A requirement of the CAEP interoperability profile: hard unless --no-interop."""
        if self.interop:
            return self.check(name, ok, detail, spec)
        if not ok:
            self.warn(name, detail, spec)
        return bool(ok)

    def warn(self, name: str, detail: str = "", spec: str = "") -> None:
        with self._lock:
            self.warnings.append({"name": name, "detail": detail, "spec": spec})
        print(f"WARN {name}: {detail} [{spec}]", file=sys.stderr, flush=True)

    def passed(self) -> bool:
        with self._lock:
            return bool(self.checks) and all(c["ok"] for c in self.checks)

    def to_json(self) -> dict:
        with self._lock:
            return {"passed": bool(self.checks) and all(c["ok"] for c in self.checks),
                    "checks": list(self.checks), "warnings": list(self.warnings)}


def atomic_write_json(path: str, obj) -> None:
    directory = os.path.dirname(os.path.abspath(path)) or "."
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# ---------------------------------------------------------------------------
# Problems found while validating a document
# ---------------------------------------------------------------------------

class Problem:
    """One finding. level: 'error' (hard), 'interop' (hard unless --no-interop), 'warn'."""

    def __init__(self, name: str, detail: str, spec: str, level: str = "error",
                 err: str = "invalid_request"):
        self.name, self.detail, self.spec, self.level, self.err = name, detail, spec, level, err

    def __repr__(self) -> str:
        return f"{self.level}:{self.name}: {self.detail} [{self.spec}]"


def is_hard(p: Problem, interop: bool) -> bool:
    return p.level == "error" or (p.level == "interop" and interop)


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _nonempty_str(v) -> bool:
    return isinstance(v, str) and v != ""


def _https_url(v) -> bool:
    if not isinstance(v, str):
        return False
    p = urllib.parse.urlparse(v)
    return p.scheme == "https" and bool(p.netloc)


# ---------------------------------------------------------------------------
# Subject identifiers (RFC 9493, SSF §3)
# ---------------------------------------------------------------------------

def validate_subject_id(sid, path: str = "sub_id", allow_complex: bool = True) -> list[Problem]:
    out: list[Problem] = []
    if not isinstance(sid, dict):
        return [Problem(path, f"subject identifier must be a JSON object, got {type(sid).__name__}",
                        "RFC 9493 §3")]
    fmt = sid.get("format")
    if not _nonempty_str(fmt):
        return [Problem(path, "missing or empty 'format' member", "RFC 9493 §3")]
    if fmt == "complex":
        if not allow_complex:
            return [Problem(path, "a complex subject may only contain simple subject identifiers",
                            "SSF §3.3")]
        members = {k: v for k, v in sid.items() if k != "format"}
        if not members:
            out.append(Problem(path, "complex subject has no subject members", "SSF §3.3"))
        for k, v in members.items():
            if k not in COMPLEX_MEMBERS:
                out.append(Problem(f"{path}.{k}", f"non-standard complex member '{k}'",
                                   "SSF §3.3", level="warn"))
            out.extend(validate_subject_id(v, f"{path}.{k}", allow_complex=False))
        return out
    if fmt not in SUBJECT_FORMATS:
        return [Problem(path, f"unregistered subject format '{fmt}' (proprietary formats need a "
                              "bilateral agreement)", "SSF §3.4", level="warn")]
    required, spec = SUBJECT_FORMATS[fmt]
    for m in required:
        if m not in sid or sid[m] is None:
            out.append(Problem(path, f"format '{fmt}' requires member '{m}'", spec))
            continue
        v = sid[m]
        if fmt == "aliases":
            if not isinstance(v, list) or not v:
                out.append(Problem(path, "'identifiers' must be a non-empty array", spec))
                continue
            for i, ident in enumerate(v):
                if isinstance(ident, dict) and ident.get("format") == "aliases":
                    out.append(Problem(f"{path}.identifiers[{i}]", "aliases may not nest aliases", spec))
                out.extend(validate_subject_id(ident, f"{path}.identifiers[{i}]", allow_complex=False))
            continue
        if fmt == "ip-addresses":
            if not isinstance(v, list) or not v or not all(_nonempty_str(x) for x in v):
                out.append(Problem(path, "'ip-addresses' must be a non-empty array of strings", spec))
            continue
        if not _nonempty_str(v):
            out.append(Problem(path, f"member '{m}' must be a non-empty string", spec))
            continue
    if out:
        return out
    if fmt == "email" and not re.match(r"^[^@\s]+@[^@\s]+$", sid["email"]):
        out.append(Problem(path, f"'{sid['email']}' is not an addr-spec", spec))
    elif fmt == "phone_number" and not E164_RE.match(sid["phone_number"]):
        out.append(Problem(path, f"'{sid['phone_number']}' is not E.164", spec))
    elif fmt == "account" and not sid["uri"].startswith("acct:"):
        out.append(Problem(path, "account 'uri' must be an acct: URI", spec))
    elif fmt == "did" and not sid["url"].startswith("did:"):
        out.append(Problem(path, "did 'url' must be a did: URI", spec))
    elif fmt == "uri" and not urllib.parse.urlparse(sid["uri"]).scheme:
        out.append(Problem(path, "uri 'uri' must be an absolute URI", spec))
    return out


def subject_formats(sid) -> list[str]:
    """Leaf formats of a subject identifier."""
    if not isinstance(sid, dict):
        return []
    if sid.get("format") == "complex":
        return [v.get("format") for k, v in sid.items() if k != "format" and isinstance(v, dict)]
    return [sid.get("format")]


# ---------------------------------------------------------------------------
# Transmitter metadata (SSF §7)
# ---------------------------------------------------------------------------

def discovery_url(issuer: str) -> str:
    """SSF §7.2.1: insert /.well-known/ssf-configuration between host and path."""
    p = urllib.parse.urlparse(issuer)
    path = p.path.rstrip("/")
    return urllib.parse.urlunparse((p.scheme, p.netloc, "/.well-known/ssf-configuration" + path,
                                    "", "", ""))


def validate_metadata(doc, issuer: str, method: str | None = None) -> list[Problem]:
    out: list[Problem] = []
    if not isinstance(doc, dict):
        return [Problem("metadata", "configuration is not a JSON object", "SSF §7.2.3")]
    iss = doc.get("issuer")
    if iss is None:
        out.append(Problem("metadata.issuer", "missing (REQUIRED)", "SSF §7.1"))
    elif iss != issuer:
        out.append(Problem("metadata.issuer", f"'{iss}' is not identical to the issuer URL used "
                                              f"for discovery '{issuer}'", "SSF §7.2.4"))
    else:
        p = urllib.parse.urlparse(iss)
        if p.scheme != "https" or p.query or p.fragment:
            out.append(Problem("metadata.issuer", "must be https with no query or fragment", "SSF §7.1"))

    sv = doc.get("spec_version")
    if sv is None:
        out.append(Problem("metadata.spec_version", "missing (absent means 1_0-ID1)",
                           "CAEP-Interop §2.3.1", level="interop"))
    elif not isinstance(sv, str) or not sv.startswith("1_0") or sv == "1_0-ID1":
        out.append(Problem("metadata.spec_version", f"'{sv}' is not 1_0-ID2 or later",
                           "CAEP-Interop §2.3.1", level="interop"))
    elif sv != "1_0":
        out.append(Problem("metadata.spec_version", f"'{sv}' is not the final '1_0'",
                           "SSF §7.1; CAEP-Interop draft 02 §2.3.1", level="warn"))

    jwks_uri = doc.get("jwks_uri")
    if jwks_uri is None:
        out.append(Problem("metadata.jwks_uri", "missing: required when SETs are signed",
                           "SSF §7.1; CAEP-Interop §2.3.3"))
    elif not _https_url(jwks_uri):
        out.append(Problem("metadata.jwks_uri", f"'{jwks_uri}' must use https", "SSF §7.1"))

    dms = doc.get("delivery_methods_supported")
    if dms is None:
        out.append(Problem("metadata.delivery_methods_supported", "missing",
                           "SSF §7.1 (RECOMMENDED); CAEP-Interop §2.3.2", level="interop"))
    elif not isinstance(dms, list) or not all(_nonempty_str(x) for x in dms):
        out.append(Problem("metadata.delivery_methods_supported", "must be an array of URIs", "SSF §7.1"))
    else:
        for m in (PUSH, POLL):
            if m not in dms:
                out.append(Problem("metadata.delivery_methods_supported", f"does not list {m}",
                                   "CAEP-Interop §2.3.8.1", level="interop"))
        if method and method not in dms:
            out.append(Problem("metadata.delivery_methods_supported",
                               f"does not list the delivery method under test {method}", "SSF §7.1"))

    for name in ENDPOINT_MEMBERS:
        v = doc.get(name)
        if v is None:
            if name in ("configuration_endpoint", "status_endpoint", "verification_endpoint"):
                out.append(Problem(f"metadata.{name}", "missing",
                                   {"configuration_endpoint": "CAEP-Interop §2.3.4",
                                    "status_endpoint": "CAEP-Interop §2.3.5",
                                    "verification_endpoint": "CAEP-Interop §2.3.6"}[name],
                                   level="interop"))
        elif not _https_url(v):
            out.append(Problem(f"metadata.{name}", f"'{v}' must use HTTP over TLS", "SSF §7.1"))

    csm = doc.get("critical_subject_members")
    if csm is not None and (not isinstance(csm, list) or not all(_nonempty_str(x) for x in csm)):
        out.append(Problem("metadata.critical_subject_members", "must be an array of member names",
                           "SSF §7.1"))

    schemes = doc.get("authorization_schemes")
    if schemes is None:
        out.append(Problem("metadata.authorization_schemes", "missing", "CAEP-Interop §2.3.7",
                           level="interop"))
    elif not isinstance(schemes, list):
        out.append(Problem("metadata.authorization_schemes", "must be an array", "SSF §7.1"))
    else:
        for i, s in enumerate(schemes):
            if not isinstance(s, dict) or not _nonempty_str(s.get("spec_urn")):
                out.append(Problem(f"metadata.authorization_schemes[{i}]",
                                   "each scheme must be an object with spec_urn", "SSF §7.1.1"))
        if not any(isinstance(s, dict) and s.get("spec_urn") == OAUTH_SPEC_URN for s in schemes):
            out.append(Problem("metadata.authorization_schemes",
                               f"does not include {{\"spec_urn\": \"{OAUTH_SPEC_URN}\"}}",
                               "CAEP-Interop §2.3.7", level="interop"))

    ds = doc.get("default_subjects")
    if ds is not None and ds not in ("ALL", "NONE"):
        out.append(Problem("metadata.default_subjects", f"'{ds}' must be ALL or NONE", "SSF §7.1"))

    for k, v in doc.items():
        if isinstance(v, list) and not v:
            out.append(Problem(f"metadata.{k}", "claims with zero elements MUST be omitted",
                               "SSF §7.2.3"))
    return out


# ---------------------------------------------------------------------------
# Stream configuration (SSF §8.1.1)
# ---------------------------------------------------------------------------

def validate_stream_config(cfg, issuer: str, method: str | None = None,
                           expected_audience: str | None = None,
                           push_url: str | None = None) -> list[Problem]:
    out: list[Problem] = []
    if not isinstance(cfg, dict):
        return [Problem("stream", "stream configuration is not a JSON object", "SSF §8.1.1")]
    sid = cfg.get("stream_id")
    if not _nonempty_str(sid):
        out.append(Problem("stream.stream_id", "missing or not a non-empty string (REQUIRED)",
                           "SSF §8.1.1"))
    elif not UNRESERVED_RE.match(sid):
        out.append(Problem("stream.stream_id", f"'{sid}' uses characters outside RFC 3986 §2.3",
                           "SSF §8.1.1", level="warn"))
    if cfg.get("iss") != issuer:
        out.append(Problem("stream.iss", f"'{cfg.get('iss')}' does not match issuer '{issuer}'",
                           "SSF §8.1.1; §8.1.1.1", err="invalid_issuer"))
    aud = cfg.get("aud")
    if isinstance(aud, str):
        auds = [aud] if aud else []
    elif isinstance(aud, list) and all(_nonempty_str(a) for a in aud):
        auds = list(aud)
    else:
        auds = []
    if not auds:
        out.append(Problem("stream.aud", f"missing or not a string/array of strings: {aud!r}",
                           "SSF §8.1.1"))
    elif expected_audience is not None and expected_audience not in auds:
        out.append(Problem("stream.aud", f"{aud!r} does not contain the expected audience "
                                         f"'{expected_audience}'", "SSF §8.1.1.1.1"))
    for name in ("events_supported", "events_requested", "events_delivered"):
        v = cfg.get(name)
        if v is None:
            if name == "events_delivered":
                out.append(Problem("stream.events_delivered", "missing (REQUIRED)", "SSF §8.1.1"))
            continue
        if not isinstance(v, list) or not all(_nonempty_str(x) for x in v):
            out.append(Problem(f"stream.{name}", "must be an array of URIs", "SSF §8.1.1"))
    ed, es, er = cfg.get("events_delivered"), cfg.get("events_supported"), cfg.get("events_requested")
    if isinstance(ed, list):
        if isinstance(es, list):
            extra = [e for e in ed if e not in es]
            if extra:
                out.append(Problem("stream.events_delivered", f"not a subset of events_supported: "
                                                              f"{extra}", "SSF §8.1.1"))
        if isinstance(er, list):
            extra = [e for e in ed if e not in er]
            if extra:
                out.append(Problem("stream.events_delivered", f"not a subset of events_requested: "
                                                              f"{extra}", "SSF §8.1.1"))
    d = cfg.get("delivery")
    if not isinstance(d, dict):
        out.append(Problem("stream.delivery", "missing or not an object (REQUIRED)",
                           "SSF §8.1.1; CAEP-Interop §2.3.8.1"))
    else:
        m = d.get("method")
        if m not in (PUSH, POLL):
            out.append(Problem("stream.delivery.method", f"'{m}' is neither {PUSH} nor {POLL}",
                               "SSF §6.1; CAEP-Interop §2.3.8.1"))
        elif method and m != method:
            out.append(Problem("stream.delivery.method", f"'{m}' differs from the requested {method}",
                               "SSF §8.1.1.1"))
        url = d.get("endpoint_url")
        if m == POLL:
            if not _nonempty_str(url) or not urllib.parse.urlparse(url).scheme:
                out.append(Problem("stream.delivery.endpoint_url",
                                   "poll delivery must carry a transmitter-supplied endpoint_url",
                                   "SSF §6.1.2; §8.1.1.1"))
            elif not _https_url(url):
                out.append(Problem("stream.delivery.endpoint_url", f"'{url}' is not https",
                                   "CAEP-Interop §2.1", level="interop"))
        elif m == PUSH and push_url is not None and url != push_url:
            out.append(Problem("stream.delivery.endpoint_url",
                               f"'{url}' is not the receiver-supplied '{push_url}'", "SSF §6.1.1"))
    for name in ("min_verification_interval", "inactivity_timeout"):
        v = cfg.get(name)
        if v is not None and (not _is_int(v) or v < 0):
            out.append(Problem(f"stream.{name}", f"{v!r} must be a non-negative integer",
                               "SSF §8.1.1"))
    desc = cfg.get("description")
    if desc is not None and not isinstance(desc, str):
        out.append(Problem("stream.description", "must be a string", "SSF §8.1.1"))
    return out


def aud_list(aud) -> list[str]:
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list):
        return [a for a in aud if isinstance(a, str)]
    return []


# ---------------------------------------------------------------------------
# JWKS
# ---------------------------------------------------------------------------

def _b64u_int(s: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)), "big")


class KeyStore:
    def __init__(self, jwks: dict | None = None, refresh=None):
        self.jwks = jwks or {"keys": []}
        self.refresh = refresh      # callable returning a fresh JWKS dict, or None
        self._lock = threading.Lock()
        self._refreshed_at = 0.0

    def keys(self) -> list[dict]:
        with self._lock:
            ks = self.jwks.get("keys") if isinstance(self.jwks, dict) else None
            return [k for k in ks if isinstance(k, dict)] if isinstance(ks, list) else []

    def find(self, kid, alg: str) -> tuple[dict | None, list[Problem]]:
        problems: list[Problem] = []
        key = self._select(kid, alg, problems)
        if key is None and self.refresh is not None and time.time() - self._refreshed_at > 2:
            self._refreshed_at = time.time()
            try:
                fresh = self.refresh()
                with self._lock:
                    self.jwks = fresh
                problems = []
                key = self._select(kid, alg, problems)
            except Exception as e:  # noqa: BLE001
                problems.append(Problem("set.key", f"JWKS refresh failed: {e}", "SSF §4.1.4",
                                        err="invalid_key"))
        return key, problems

    def _select(self, kid, alg, problems) -> dict | None:
        kty = {"RS256": "RSA", "ES256": "EC"}[alg]
        cands = [k for k in self.keys() if k.get("kty") == kty
                 and k.get("use", "sig") == "sig" and k.get("alg", alg) == alg]
        if kid is not None:
            cands = [k for k in cands if k.get("kid") == kid]
            if not cands:
                problems.append(Problem("set.kid", f"no {kty} key with kid '{kid}' for {alg} in the JWKS",
                                        "SSF §4.1.4", err="invalid_key"))
                return None
            return cands[0]
        problems.append(Problem("set.kid", "JOSE header has no 'kid' (Okta requires one)",
                                "RFC 7515 §4.1.4", level="warn"))
        if len(cands) == 1:
            return cands[0]
        problems.append(Problem("set.kid", f"no kid and {len(cands)} candidate keys in the JWKS",
                                "SSF §4.1.4", err="invalid_key"))
        return None


def validate_jwks(jwks) -> list[Problem]:
    out: list[Problem] = []
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        return [Problem("jwks", "JWKS must be an object with a 'keys' array", "RFC 7517 §5")]
    if not jwks["keys"]:
        out.append(Problem("jwks", "JWKS has no keys", "SSF §7.1"))
    for i, k in enumerate(jwks["keys"]):
        if not isinstance(k, dict) or not _nonempty_str(k.get("kty")):
            out.append(Problem(f"jwks.keys[{i}]", "key without kty", "RFC 7517 §4.1"))
            continue
        if any(p in k for p in ("d", "p", "q", "dp", "dq", "qi", "k")):
            out.append(Problem(f"jwks.keys[{i}]", "JWKS publishes private key material", "RFC 7517 §9.3"))
        if k["kty"] == "RSA":
            try:
                bits = _b64u_int(k["n"]).bit_length()
                if bits < 2048:
                    out.append(Problem(f"jwks.keys[{i}]", f"RSA key of {bits} bits < 2048",
                                       "CAEP-Interop §2.6", level="interop"))
            except Exception:  # noqa: BLE001
                out.append(Problem(f"jwks.keys[{i}]", "RSA key without a valid 'n'", "RFC 7518 §6.3.1"))
        if "kid" not in k:
            out.append(Problem(f"jwks.keys[{i}]", "key has no kid", "RFC 7517 §4.5", level="warn"))
    return out


# ---------------------------------------------------------------------------
# SET validation (SSF §4, RFC 8417, CAEP)
# ---------------------------------------------------------------------------

class SetContext:
    def __init__(self, issuer: str, keys: KeyStore, interop: bool = True):
        self.issuer = issuer
        self.keys = keys
        self.interop = interop
        self.stream: dict | None = None          # stream configuration (after create)
        self.expected_audience: str | None = None
        self.known_states: set[str] = set()
        self.not_before = time.time() - DEFAULT_MAX_AGE
        self.stream_ready = threading.Event()


class SetResult:
    def __init__(self):
        self.header: dict | None = None
        self.claims: dict | None = None
        self.problems: list[Problem] = []
        self.event_type: str | None = None
        self.event: dict | None = None
        self.signature_ok = False

    def add(self, p: Problem) -> None:
        self.problems.append(p)

    def hard(self, interop: bool) -> list[Problem]:
        return [p for p in self.problems if is_hard(p, interop)]

    @property
    def jti(self):
        return self.claims.get("jti") if isinstance(self.claims, dict) else None


def _b64u_json(seg: str):
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


def validate_set(token, ctx: SetContext, now: float | None = None) -> SetResult:
    r = SetResult()
    now = time.time() if now is None else now
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError:
            r.add(Problem("set.encoding", "SET is not ASCII compact serialization", "RFC 7515 §7.1"))
            return r
    token = token.strip() if isinstance(token, str) else token
    if not isinstance(token, str) or token.count(".") != 2:
        n = token.count(".") + 1 if isinstance(token, str) else 0
        r.add(Problem("set.serialization", f"not a JWS compact serialization ({n} parts; encrypted "
                                           "SETs are not supported by this receiver)", "RFC 8417 §2"))
        return r
    h_seg, p_seg, _ = token.split(".")
    try:
        header = _b64u_json(h_seg)
        claims = _b64u_json(p_seg)
    except Exception as e:  # noqa: BLE001
        r.add(Problem("set.serialization", f"header/payload are not base64url JSON: {e}", "RFC 7519 §7.2"))
        return r
    if not isinstance(header, dict) or not isinstance(claims, dict):
        r.add(Problem("set.serialization", "header and payload must be JSON objects", "RFC 7519 §7.2"))
        return r
    r.header, r.claims = header, claims

    # --- JOSE header -------------------------------------------------------
    typ = header.get("typ")
    if typ == "secevent+jwt":
        pass
    elif isinstance(typ, str) and typ.lower() == "application/secevent+jwt":
        r.add(Problem("set.typ", "typ uses the long form 'application/secevent+jwt'",
                      "RFC 8417 §2.3", level="warn"))
    else:
        r.add(Problem("set.typ", f"JOSE typ is {typ!r}, must be 'secevent+jwt'", "SSF §4.1.1; RFC 8417 §2.3"))
    alg = header.get("alg")
    if "crit" in header:
        r.add(Problem("set.crit", f"unsupported critical header parameters {header['crit']!r}",
                      "RFC 7515 §4.1.11"))
    if alg not in ("RS256", "ES256"):
        r.add(Problem("set.alg", f"alg {alg!r}: SETs must be signed (this receiver verifies RS256 "
                                 "and ES256)", "SSF §4.1.4; RFC 8417 §5", err="invalid_key"))
    else:
        if alg != "RS256":
            r.add(Problem("set.alg", f"alg {alg}: the interop profile requires RS256",
                          "CAEP-Interop §2.6", level="interop"))
        jwk, probs = ctx.keys.find(header.get("kid"), alg)
        for p in probs:
            r.add(p)
        if jwk is not None:
            try:
                key = jwt.PyJWK(jwk, algorithm=alg).key
                jwt.decode(token, key=key, algorithms=[alg],
                           options={"verify_signature": True, "verify_exp": False,
                                    "verify_nbf": False, "verify_iat": False,
                                    "verify_aud": False, "verify_iss": False})
                r.signature_ok = True
            except jwt.InvalidSignatureError:
                r.add(Problem("set.signature", "signature does not verify against the JWKS key "
                                               f"kid={jwk.get('kid')!r}", "RFC 7515 §5.2; SSF §4.1.4",
                              err="invalid_key"))
            except Exception as e:  # noqa: BLE001
                r.add(Problem("set.signature", f"cannot verify signature: {type(e).__name__}: {e}",
                              "RFC 7515 §5.2", err="invalid_key"))
            if jwk.get("kty") == "RSA":
                try:
                    bits = _b64u_int(jwk["n"]).bit_length()
                    if bits < 2048:
                        r.add(Problem("set.key", f"RSA key of {bits} bits", "CAEP-Interop §2.6",
                                      level="interop", err="invalid_key"))
                except Exception:  # noqa: BLE001
                    pass

    # --- registered claims ---------------------------------------------------
    stream = ctx.stream or {}
    iss = claims.get("iss")
    if iss != ctx.issuer:
        r.add(Problem("set.iss", f"iss {iss!r} is not the issuer {ctx.issuer!r}", "SSF §4.1.6; §7.2.4",
                      err="invalid_issuer"))
    elif stream and iss != stream.get("iss"):
        r.add(Problem("set.iss", f"iss {iss!r} is not the stream iss {stream.get('iss')!r}",
                      "SSF §4.1.6", err="invalid_issuer"))
    aud = claims.get("aud")
    auds = aud_list(aud)
    if aud is None or not auds or (isinstance(aud, list) and len(auds) != len(aud)):
        r.add(Problem("set.aud", f"aud {aud!r} must be a string or an array of strings",
                      "SSF §4.1.8; RFC 7519 §4.1.3", err="invalid_audience"))
    else:
        stream_auds = aud_list(stream.get("aud")) if stream else []
        if stream_auds and not set(auds) <= set(stream_auds):
            r.add(Problem("set.aud", f"aud {aud!r} is not (a subset of) the stream aud "
                                     f"{stream.get('aud')!r}", "SSF §4.1.8; §8.1.1",
                          err="invalid_audience"))
        if ctx.expected_audience is not None and ctx.expected_audience not in auds:
            r.add(Problem("set.aud", f"aud {aud!r} does not contain '{ctx.expected_audience}'",
                          "SSF §4.1.8", err="invalid_audience"))
    iat = claims.get("iat")
    if not _is_num(iat):
        r.add(Problem("set.iat", f"iat {iat!r} missing or not a NumericDate", "RFC 8417 §2.2"))
    else:
        if not _is_int(iat):
            r.add(Problem("set.iat", "iat is not an integer", "RFC 7519 §2", level="warn"))
        if iat > now + CLOCK_SKEW:
            r.add(Problem("set.iat", f"iat {iat} is {iat - now:.0f}s in the future", "RFC 7519 §4.1.6"))
        if iat < ctx.not_before:
            r.add(Problem("set.iat", f"iat {iat} is older than this test run", "RFC 7519 §4.1.6"))
    jti = claims.get("jti")
    if not _nonempty_str(jti):
        r.add(Problem("set.jti", f"jti {jti!r} missing or empty", "RFC 8417 §2.2; RFC 8936 §2.4"))
    if "sub" in claims:
        r.add(Problem("set.sub", "the JWT 'sub' claim MUST NOT be present", "SSF §4.1.2; §4.1.3"))
    if "exp" in claims:
        r.add(Problem("set.exp", "the 'exp' claim MUST NOT be used in SETs", "SSF §4.1.7"))
    if "txn" in claims:
        if not _nonempty_str(claims["txn"]):
            r.add(Problem("set.txn", f"txn {claims['txn']!r} must be a non-empty string", "RFC 8417 §2.2"))
    else:
        r.add(Problem("set.txn", "no txn claim", "SSF §4.1.9 (SHOULD)", level="warn"))
    if "toe" in claims and not _is_num(claims["toe"]):
        r.add(Problem("set.toe", "toe must be a NumericDate", "RFC 8417 §2.2"))
    if "sub_id" not in claims:
        r.add(Problem("set.sub_id", "top-level sub_id is missing", "SSF §3.1; §3.1.1"))
        sub_id = None
    else:
        sub_id = claims["sub_id"]
        for p in validate_subject_id(sub_id, "set.sub_id"):
            r.add(p)

    # --- events ----------------------------------------------------------------
    events = claims.get("events")
    if not isinstance(events, dict) or not events:
        r.add(Problem("set.events", "events must be a non-empty JSON object", "RFC 8417 §2.2"))
        return r
    if len(events) != 1:
        r.add(Problem("set.events", f"events holds {len(events)} events; exactly one required",
                      "CAEP-Interop §2.8.1; SSF §4.2.1 (SHOULD)", level="interop"))
    for k, v in events.items():
        if not isinstance(v, dict):
            r.add(Problem("set.events", f"event '{k}' value must be a JSON object", "RFC 8417 §2.2"))
        if ":" not in k:
            r.add(Problem("set.events", f"event type '{k}' is not a URI", "RFC 8417 §2.2"))
    etype = next(iter(events))
    ev = events[etype] if isinstance(events[etype], dict) else {}
    r.event_type, r.event = etype, ev
    stream_id = stream.get("stream_id")

    if etype in (EV_VERIFICATION, EV_STREAM_UPDATED):
        spec = "SSF §8.1.4.1" if etype == EV_VERIFICATION else "SSF §8.1.5"
        if isinstance(sub_id, dict):
            if sub_id.get("format") != "opaque":
                r.add(Problem("set.sub_id", f"must be a simple 'opaque' subject, got "
                                            f"format {sub_id.get('format')!r}", spec))
            elif stream_id is not None and sub_id.get("id") != stream_id:
                r.add(Problem("set.sub_id", f"id {sub_id.get('id')!r} is not the stream_id "
                                            f"{stream_id!r}", spec))
            extra = set(sub_id) - {"format", "id"}
            if extra:
                r.add(Problem("set.sub_id", f"unexpected members {sorted(extra)}", spec, level="warn"))
    if etype == EV_VERIFICATION:
        if "state" in ev:
            st = ev["state"]
            if not isinstance(st, str):
                r.add(Problem("verification.state", "state must be a string", "SSF §8.1.4.1"))
            elif st not in ctx.known_states:
                r.add(Problem("verification.state", f"state {st!r} does not match any requested state",
                              "SSF §8.1.4.1; §8.1.4.2", err="invalid_state"))
    elif etype == EV_STREAM_UPDATED:
        if ev.get("status") not in STREAM_STATUSES:
            r.add(Problem("stream_updated.status", f"status {ev.get('status')!r} must be one of "
                                                   f"{STREAM_STATUSES}", "SSF §8.1.5"))
        if "reason" in ev and not isinstance(ev["reason"], str):
            r.add(Problem("stream_updated.reason", "reason must be a string", "SSF §8.1.5"))
    else:
        ed = stream.get("events_delivered")
        if isinstance(ed, list) and etype not in ed:
            r.add(Problem("set.events", f"event type {etype} is not in the stream's events_delivered",
                          "SSF §8.1.1 (events_delivered)"))
        if isinstance(sub_id, dict) and sub_id.get("format") == "opaque" and stream_id is not None \
                and sub_id.get("id") == stream_id:
            r.add(Problem("set.sub_id", "a subject event uses the stream's own opaque subject",
                          "SSF §3.1", level="warn"))
    if etype == EV_DCC:
        for p in validate_dcc(ev, claims):
            r.add(p)
        if isinstance(sub_id, dict):
            fmts = subject_formats(sub_id)
            if sub_id.get("format") == "complex" and "device" not in sub_id:
                r.add(Problem("dcc.sub_id", "complex subject of a device event has no 'device' member",
                              "SSF §3.3; CAEP §3.5", level="warn"))
            bad = [f for f in fmts if f not in ("email", "iss_sub", "opaque")]
            if bad:
                r.add(Problem("dcc.sub_id", f"subject formats {bad} are outside the interop set "
                                            "(email, iss_sub)", "CAEP-Interop §2.5", level="warn"))
    return r


def validate_dcc(ev: dict, claims: dict) -> list[Problem]:
    out: list[Problem] = []
    spec = "CAEP §3.5.1"
    for m in ("previous_status", "current_status"):
        if m not in ev:
            out.append(Problem(f"dcc.{m}", "missing (REQUIRED)", spec))
        elif ev[m] not in COMPLIANCE:
            out.append(Problem(f"dcc.{m}", f"{ev[m]!r} must be 'compliant' or 'not-compliant'", spec))
    if ev.get("previous_status") in COMPLIANCE and ev.get("previous_status") == ev.get("current_status"):
        out.append(Problem("dcc.status", "previous_status equals current_status", spec, level="warn"))
    if "event_timestamp" in ev:
        ts = ev["event_timestamp"]
        if not _is_num(ts):
            out.append(Problem("dcc.event_timestamp", f"{ts!r} must be a JSON number", "CAEP §2"))
        else:
            iat = claims.get("iat")
            if _is_num(iat) and ts > iat + CLOCK_SKEW:
                out.append(Problem("dcc.event_timestamp", f"{ts} is after the SET's iat {iat}",
                                   "CAEP §2; §3.5.1"))
            if ts > 1e11:
                out.append(Problem("dcc.event_timestamp", f"{ts} looks like milliseconds, not seconds",
                                   "CAEP §2"))
    else:
        out.append(Problem("dcc.event_timestamp", "absent (optional in CAEP, required by Okta)",
                           "CAEP §2", level="warn"))
    if "initiating_entity" in ev and ev["initiating_entity"] not in INITIATING_ENTITIES:
        out.append(Problem("dcc.initiating_entity", f"{ev['initiating_entity']!r} must be one of "
                                                    f"{INITIATING_ENTITIES}", "CAEP §2"))
    for m in ("reason_admin", "reason_user"):
        if m not in ev:
            continue
        v = ev[m]
        if not isinstance(v, dict) or not v:
            out.append(Problem(f"dcc.{m}", "must be an object with at least one language-tagged entry",
                               "CAEP §2"))
            continue
        for lang, text in v.items():
            if not BCP47_RE.match(lang):
                out.append(Problem(f"dcc.{m}", f"key {lang!r} is not a BCP 47 language tag", "CAEP §2"))
            if not isinstance(text, str):
                out.append(Problem(f"dcc.{m}", f"value for {lang!r} must be a string", "CAEP §2"))
            elif not text:
                out.append(Problem(f"dcc.{m}", f"empty message for {lang!r}", "CAEP §2", level="warn"))
    if "subject" in ev:
        subj = ev["subject"]
        if isinstance(subj, dict) and "format" not in subj:
            subj = dict(subj, format="complex")
        probs = validate_subject_id(subj, "dcc.subject")
        for p in probs:
            p.level = "warn"
            p.spec += " (legacy in-event subject, SSF §3.1.1)"
        out.extend(probs)
    return out


# ---------------------------------------------------------------------------
# HTTP client
# ---------------------------------------------------------------------------

class Resp:
    def __init__(self, status: int, headers: dict, body: bytes, error: str | None = None):
        self.status, self.headers, self.body, self.error = status, headers, body, error
        self.json = None
        self.json_error = None
        if body:
            try:
                self.json = json.loads(body)
            except Exception as e:  # noqa: BLE001
                self.json_error = str(e)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def describe(self) -> str:
        if self.error:
            return f"transport error: {self.error}"
        b = self.body[:300].decode("utf-8", "replace") if self.body else ""
        return f"HTTP {self.status} {self.content_type} {b!r}"


_DEFAULT = object()


class HttpClient:
    def __init__(self, cafile: str | None, token: str | None, verbose: bool = False,
                 timeout: float = 20.0):
        self.ctx = ssl.create_default_context(cafile=cafile)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_2        # CAEP-Interop §2.1
        self.token = token
        self.verbose = verbose
        self.timeout = timeout

    def request(self, method: str, url: str, body=None, token=_DEFAULT, headers=None,
                timeout: float | None = None) -> Resp:
        p = urllib.parse.urlparse(url)
        hdrs = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        tok = self.token if token is _DEFAULT else token
        if tok is not None:
            hdrs["Authorization"] = f"Bearer {tok}"
        hdrs.update(headers or {})
        path = (p.path or "/") + (f"?{p.query}" if p.query else "")
        try:
            if p.scheme == "https":
                conn = http.client.HTTPSConnection(p.hostname, p.port or 443, context=self.ctx,
                                                   timeout=timeout or self.timeout)
            elif p.scheme == "http":
                conn = http.client.HTTPConnection(p.hostname, p.port or 80, timeout=timeout or self.timeout)
            else:
                return Resp(0, {}, b"", f"unsupported URL scheme in {url!r}")
            try:
                conn.request(method, path, body=data, headers=hdrs)
                resp = conn.getresponse()
                rbody = resp.read()
                rh = {k.lower(): v for k, v in resp.getheaders()}
                r = Resp(resp.status, rh, rbody)
            finally:
                conn.close()
        except (OSError, http.client.HTTPException, ssl.SSLError) as e:
            r = Resp(0, {}, b"", f"{type(e).__name__}: {e}")
        if self.verbose:
            print(f"  -> {method} {url} {json.dumps(body) if isinstance(body, dict) else ''}\n"
                  f"  <- {r.describe()}", flush=True)
        return r


def with_query(url: str, **params) -> str:
    p = urllib.parse.urlparse(url)
    q = urllib.parse.parse_qsl(p.query, keep_blank_values=True) + list(params.items())
    return urllib.parse.urlunparse(p._replace(query=urllib.parse.urlencode(q)))


# ---------------------------------------------------------------------------
# Inbox of received SETs
# ---------------------------------------------------------------------------

class Inbox:
    def __init__(self):
        self.records: list[dict] = []
        self.cond = threading.Condition()
        self.phase = "setup"

    def add(self, rec: dict) -> None:
        with self.cond:
            rec["index"] = len(self.records)
            rec["phase"] = self.phase
            self.records.append(rec)
            self.cond.notify_all()

    def set_phase(self, phase: str) -> int:
        with self.cond:
            self.phase = phase
            return len(self.records)

    def wait_for(self, pred, start: int, deadline: float):
        """Return the first record with index >= start satisfying pred, or None at deadline."""
        with self.cond:
            while True:
                for rec in self.records[start:]:
                    if pred(rec):
                        return rec
                left = deadline - time.time()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 0.5))

    def snapshot(self) -> list[dict]:
        with self.cond:
            return list(self.records)


class Abort(Exception):
    """A prerequisite of the scenario failed; the rest cannot run."""


# ---------------------------------------------------------------------------
# The receiver
# ---------------------------------------------------------------------------

class Receiver:
    def __init__(self, args):
        self.args = args
        self.report = Report(interop=not args.no_interop, verbose=args.verbose)
        self.issuer = args.transmitter
        self.http = HttpClient(args.cafile, args.token, verbose=args.verbose)
        self.start = time.time()
        self.deadline = self.start + args.timeout
        self.meta: dict = {}
        self.keys = KeyStore(refresh=self._fetch_jwks_raw)
        self.ctx = SetContext(self.issuer, self.keys, interop=not args.no_interop)
        self.ctx.expected_audience = args.audience
        self.ctx.not_before = self.start - 120
        self.inbox = Inbox()
        self.stream: dict | None = None
        self.stream_id: str | None = None
        self.deleted = False
        self.seen_jti: dict[str, int] = {}
        self.acked: set[str] = set()
        self._lock = threading.Lock()
        self.push_server = None
        self.push_url = None
        self.push_auth = None
        self.poller = None
        self.poll_stop = threading.Event()
        self.set_counter = 0

    # --- helpers -------------------------------------------------------------
    def left(self, reserve: float = 0.0) -> float:
        return self.deadline - reserve - time.time()

    def problems_to_checks(self, prefix: str, problems: list[Problem], ok_name: str | None = None,
                           ok_spec: str = "") -> bool:
        hard = [p for p in problems if is_hard(p, self.report.interop)]
        for p in problems:
            if p.level == "warn":
                self.report.warn(f"{prefix}:{p.name}", p.detail, p.spec)
            elif p.level == "interop":
                self.report.interop_check(f"{prefix}:{p.name}", False, p.detail, p.spec)
            else:
                self.report.check(f"{prefix}:{p.name}", False, p.detail, p.spec)
        if ok_name and not hard:
            self.report.check(ok_name, True, "valid", ok_spec)
        return not hard

    def expect_status(self, name: str, r: Resp, codes, spec: str) -> bool:
        codes = (codes,) if isinstance(codes, int) else tuple(codes)
        return self.report.check(name, r.status in codes,
                                 f"expected {'/'.join(map(str, codes))}, got {r.describe()}", spec)

    def expect_json(self, name: str, r: Resp, kind, spec: str) -> bool:
        ok = r.json_error is None and isinstance(r.json, kind)
        if r.status in (200, 201) and r.body and r.content_type != "application/json":
            self.report.warn(f"{name}.content_type", f"Content-Type is {r.content_type!r}",
                             "SSF §8.1.1 (JSON representation)")
        return self.report.check(name, ok, "JSON " + kind.__name__ if ok else
                                 f"body is not a JSON {kind.__name__}: {r.describe()}", spec)

    # --- 1. discovery ----------------------------------------------------------
    def _fetch_jwks_raw(self) -> dict:
        r = self.http.request("GET", self.meta["jwks_uri"], token=None)
        if r.status != 200 or not isinstance(r.json, dict):
            raise RuntimeError(r.describe())
        return r.json

    def discover(self) -> None:
        p = urllib.parse.urlparse(self.issuer)
        self.report.check("discovery.issuer_url", p.scheme == "https" and not p.query and not p.fragment,
                          f"issuer URL {self.issuer!r}", "SSF §7.2")
        url = discovery_url(self.issuer)
        r = self.http.request("GET", url, token=None)
        if not self.expect_status("discovery.status", r, 200, "SSF §7.2.3"):
            raise Abort("no transmitter configuration")
        self.report.check("discovery.content_type", r.content_type == "application/json",
                          f"Content-Type {r.content_type!r}", "SSF §7.2")
        if not self.expect_json("discovery.json", r, dict, "SSF §7.2.3"):
            raise Abort("transmitter configuration is not JSON")
        self.meta = r.json
        method = PUSH if self.args.delivery == "push" else POLL
        self.problems_to_checks("discovery", validate_metadata(self.meta, self.issuer, method),
                                "discovery.metadata", "SSF §7.1")
        for needed in ("jwks_uri", "configuration_endpoint", "status_endpoint", "verification_endpoint"):
            if not isinstance(self.meta.get(needed), str):
                raise Abort(f"metadata lacks {needed}; cannot continue")
        jr = self.http.request("GET", self.meta["jwks_uri"], token=None)
        if not self.expect_status("jwks.status", jr, 200, "SSF §7.1 (jwks_uri)"):
            raise Abort("JWKS unavailable")
        if not self.expect_json("jwks.json", jr, dict, "RFC 7517 §5"):
            raise Abort("JWKS is not JSON")
        self.problems_to_checks("jwks", validate_jwks(jr.json), "jwks.valid", "RFC 7517 §5")
        self.keys.jwks = jr.json

    # --- push endpoint -----------------------------------------------------------
    def start_push(self) -> None:
        receiver = self
        path = "/ssf/push/" + secrets.token_urlsafe(12)
        self.push_auth = "Bearer " + secrets.token_urlsafe(24)

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *a):  # quiet
                if receiver.args.verbose:
                    print("  push: " + fmt % a, flush=True)

            def _send(self, code: int, obj=None):
                data = json.dumps(obj).encode() if obj is not None else b""
                self.send_response(code)
                if obj is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length > 0 else b""
                if self.path != path:
                    receiver.report.check("push.path", False, f"POST to unknown path {self.path!r}",
                                          "SSF §6.1.1 (endpoint_url)")
                    return self._send(404)
                if self.headers.get("Authorization") != receiver.push_auth:
                    receiver.report.check("push.authorization_header", False,
                                          f"Authorization {self.headers.get('Authorization')!r} is not "
                                          "the stream's authorization_header", "SSF §6.1.1")
                    return self._send(400, {"err": "authentication_failed",
                                            "description": "missing or wrong Authorization"})
                ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
                if ctype != "application/secevent+jwt":
                    receiver.report.check("push.content_type", False, f"Content-Type {ctype!r}",
                                          "RFC 8935 §2.1")
                    return self._send(400, {"err": "invalid_request",
                                            "description": "Content-Type must be application/secevent+jwt"})
                accept = self.headers.get("Accept")
                if accept is not None and "json" not in accept and "*/*" not in accept:
                    receiver.report.warn("push.accept", f"Accept {accept!r}", "RFC 8935 §2.1")
                res = receiver.handle_set(body, "push")
                hard = res.hard(receiver.report.interop)
                if hard:
                    code = hard[0].err if hard[0].err in PUSH_ERROR_CODES else "invalid_request"
                    return self._send(400, {"err": code, "description": f"{hard[0].name}: {hard[0].detail}"})
                return self._send(202)

            def do_GET(self):  # noqa: N802
                self._send(405, {"err": "invalid_request", "description": "use POST"})

            do_PUT = do_DELETE = do_PATCH = do_GET

        class Server(http.server.ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in self.args.push_host else socket.AF_INET

        srv = Server((self.args.push_host, 0), Handler)
        srv.daemon_threads = True
        host = self.args.push_host
        hostport = f"[{host}]:{srv.server_address[1]}" if ":" in host else f"{host}:{srv.server_address[1]}"
        scheme = "http"
        if self.args.push_cert:
            # RFC 8935 §4: push over TLS; a transmitter may refuse plain http endpoints.
            import ssl
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.args.push_cert, self.args.push_key)
            srv.socket = context.wrap_socket(srv.socket, server_side=True)
            scheme = "https"
        self.push_url = f"{scheme}://{hostport}{path}"
        self.push_server = srv
        threading.Thread(target=srv.serve_forever, name="push", daemon=True).start()

    # --- common SET handling ---------------------------------------------------
    def handle_set(self, token, via: str, poll_jti: str | None = None) -> SetResult:
        # A push may race the create-stream answer; wait briefly for the stream config.
        self.ctx.stream_ready.wait(timeout=min(10.0, max(self.left(), 0.1)))
        res = validate_set(token, self.ctx)
        with self._lock:
            self.set_counter += 1
            n = self.set_counter
            jti = res.jti
            if poll_jti is not None and jti != poll_jti:
                res.add(Problem("poll.sets", f"key {poll_jti!r} of 'sets' is not the SET's jti {jti!r}",
                                "RFC 8936 §2.3"))
            if isinstance(jti, str):
                if jti in self.acked:
                    res.add(Problem("set.jti", f"jti {jti!r} re-delivered after it was acknowledged",
                                    "RFC 8935 §2.2; RFC 8936 §2.4"))
                self.seen_jti[jti] = self.seen_jti.get(jti, 0) + 1
        short = (res.event_type or "?").rsplit("/", 1)[-1]
        name = f"set[{n}] {short} via {via} jti={res.jti}"
        hard = res.hard(self.report.interop)
        for p in res.problems:
            if p.level == "warn":
                self.report.warn(f"{name}:{p.name}", p.detail, p.spec)
        specs = "; ".join(dict.fromkeys(p.spec for p in hard)) or "SSF §4; RFC 8417"
        self.report.check(name, not hard,
                          "valid" if not hard else " | ".join(f"{p.name}: {p.detail}" for p in hard), specs)
        if self.args.verbose and res.claims is not None:
            print("  SET claims: " + json.dumps(res.claims), flush=True)
        self.inbox.add({"result": res, "ok": not hard, "type": res.event_type, "event": res.event,
                        "claims": res.claims, "jti": res.jti, "via": via, "at": time.time()})
        if not hard and isinstance(res.jti, str) and via == "push":
            with self._lock:
                self.acked.add(res.jti)
        return res

    # --- poll delivery ---------------------------------------------------------
    def start_poller(self, url: str) -> None:
        self.poll_url = url
        self.poll_errors: dict[int, int] = {}
        self.pending_ack: list[str] = []
        self.pending_errs: dict[str, dict] = {}
        self.poller = threading.Thread(target=self._poll_loop, name="poll", daemon=True)
        self.poller.start()

    def poll_once(self, max_events: int = 25, ack_only: bool = False) -> Resp:
        with self._lock:
            ack, errs = list(self.pending_ack), dict(self.pending_errs)
        body: dict = {"returnImmediately": True, "maxEvents": 0 if ack_only else max_events}
        if ack:
            body["ack"] = ack
        if errs:
            body["setErrs"] = errs
        r = self.http.request("POST", self.poll_url, body=body, timeout=15)
        if r.status != 200:
            with self._lock:
                c = self.poll_errors.get(r.status, 0)
                self.poll_errors[r.status] = c + 1
            if c == 0:
                self.report.check("poll.status", False, f"poll answered {r.describe()}", "RFC 8936 §2.5")
            return r
        with self._lock:          # the transmitter has our acks now
            self.acked.update(ack)
            self.pending_ack = [j for j in self.pending_ack if j not in ack]
            for j in errs:
                self.pending_errs.pop(j, None)
        if not isinstance(r.json, dict) or not isinstance(r.json.get("sets"), dict):
            self.report.check("poll.response", False, f"response lacks a 'sets' object: {r.describe()}",
                              "RFC 8936 §2.3")
            return r
        if "moreAvailable" in r.json and not isinstance(r.json["moreAvailable"], bool):
            self.report.check("poll.moreAvailable", False, "moreAvailable must be a boolean", "RFC 8936 §2.3")
        if ack_only and r.json["sets"]:
            self.report.check("poll.maxEvents", False, "maxEvents=0 still returned SETs", "RFC 8936 §2.2")
        for key, tok in r.json["sets"].items():
            if not isinstance(tok, str):
                self.report.check("poll.sets", False, f"value for {key!r} is not a SET string", "RFC 8936 §2.3")
                continue
            res = self.handle_set(tok, "poll", poll_jti=key)
            hard = res.hard(self.report.interop)
            with self._lock:
                if hard:
                    code = hard[0].err if hard[0].err in PUSH_ERROR_CODES else "invalid_request"
                    self.pending_errs[key] = {"err": code, "description": f"{hard[0].name}: {hard[0].detail}"}
                else:
                    self.pending_ack.append(key)
        return r

    def _poll_loop(self) -> None:
        while not self.poll_stop.is_set() and self.left() > 0:
            r = self.poll_once()
            more = isinstance(r.json, dict) and r.json.get("moreAvailable") is True
            if not more:
                self.poll_stop.wait(0.5 if r.status == 200 else 2.0)
        if self.pending_ack or self.pending_errs:
            self.poll_once(ack_only=True)

    def stop_poller(self) -> None:
        if self.poller is not None:
            self.poll_stop.set()
            self.poller.join(timeout=20)
            self.poller = None

    # --- 2./3. create and read the stream ----------------------------------------
    def requested_events(self) -> list[str]:
        return [EV_DCC, EV_VERIFICATION, EV_STREAM_UPDATED]

    def delivery_request(self) -> dict:
        if self.args.delivery == "push":
            return {"method": PUSH, "endpoint_url": self.push_url, "authorization_header": self.push_auth}
        return {"method": POLL}

    def validate_config(self, name: str, cfg, spec: str) -> bool:
        method = PUSH if self.args.delivery == "push" else POLL
        return self.problems_to_checks(name, validate_stream_config(
            cfg, self.issuer, method, self.args.audience,
            self.push_url if self.args.delivery == "push" else None), f"{name}.config", spec)

    def create_stream(self) -> None:
        body = {"events_requested": self.requested_events(), "delivery": self.delivery_request(),
                "description": "ssf_receiver conformance stream"}
        url = self.meta["configuration_endpoint"]
        r = self.http.request("POST", url, body=body)
        if r.status == 409:
            self.report.warn("create.409", "transmitter allows one stream per receiver and one exists; "
                                           "deleting existing streams and retrying", "SSF §8.1.1.1")
            lr = self.http.request("GET", url)
            if isinstance(lr.json, list):
                for s in lr.json:
                    if isinstance(s, dict) and isinstance(s.get("stream_id"), str):
                        self.http.request("DELETE", with_query(url, stream_id=s["stream_id"]))
            r = self.http.request("POST", url, body=body)
        if not self.expect_status("create.status", r, 201, "SSF §8.1.1.1"):
            raise Abort("stream not created")
        if not self.expect_json("create.json", r, dict, "SSF §8.1.1.1"):
            raise Abort("create answer is not JSON")
        cfg = r.json
        self.validate_config("create", cfg, "SSF §8.1.1; §8.1.1.1")
        if not _nonempty_str(cfg.get("stream_id")):
            raise Abort("no stream_id")
        self.stream, self.stream_id = cfg, cfg["stream_id"]
        self.ctx.stream = cfg
        self.ctx.stream_ready.set()
        ed = cfg.get("events_delivered") if isinstance(cfg.get("events_delivered"), list) else []
        self.report.check("create.events_delivered.dcc", EV_DCC in ed,
                          f"events_delivered {ed}", "SSF §8.1.1 (test needs device-compliance-change)")
        er = cfg.get("events_requested")
        if er is not None and isinstance(er, list) and set(er) != set(self.requested_events()):
            self.report.warn("create.events_requested", f"echo {er} differs from the request",
                             "SSF §8.1.1 (Receiver-Supplied)")
        desc = cfg.get("description")
        if not (isinstance(desc, str) and body["description"].startswith(desc) and desc):
            self.report.warn("create.description", f"description {desc!r} not echoed", "SSF §8.1.1")
        if self.args.delivery == "poll" and isinstance(cfg.get("delivery"), dict) \
                and _nonempty_str(cfg["delivery"].get("endpoint_url")):
            self.start_poller(cfg["delivery"]["endpoint_url"])
        elif self.args.delivery == "poll":
            raise Abort("poll stream without endpoint_url")

    def core(self, cfg: dict) -> dict:
        d = cfg.get("delivery") if isinstance(cfg.get("delivery"), dict) else {}
        out = {k: cfg.get(k) for k in TRANSMITTER_SUPPLIED}
        out["delivery.method"] = d.get("method")
        out["delivery.endpoint_url"] = d.get("endpoint_url")
        return out

    def compare_unchanged(self, name: str, before: dict, after, keys, spec: str) -> None:
        if not isinstance(after, dict):
            return
        b, a = self.core(before), self.core(after)
        diffs = [f"{k}: {b.get(k)!r} -> {a.get(k)!r}" for k in keys if b.get(k) != a.get(k)]
        self.report.check(name, not diffs, "unchanged" if not diffs else "; ".join(diffs), spec)

    def read_stream(self) -> None:
        url = self.meta["configuration_endpoint"]
        r = self.http.request("GET", with_query(url, stream_id=self.stream_id))
        if self.expect_status("read.status", r, 200, "SSF §8.1.1.2") and \
                self.expect_json("read.json", r, dict, "SSF §8.1.1.2"):
            self.validate_config("read", r.json, "SSF §8.1.1.2")
            self.compare_unchanged("read.matches_create", self.stream, r.json,
                                   list(self.core(self.stream)), "SSF §8.1.1.2")
        r = self.http.request("GET", url)
        if self.expect_status("list.status", r, 200, "SSF §8.1.1.2") and \
                self.expect_json("list.json", r, list, "SSF §8.1.1.2 (no stream_id => list)"):
            ids = [s.get("stream_id") for s in r.json if isinstance(s, dict)]
            self.report.check("list.contains_stream", self.stream_id in ids,
                              f"stream ids {ids}", "SSF §8.1.1.2")
            bad = [s.get("stream_id") for s in r.json if isinstance(s, dict) and s.get("iss") != self.issuer]
            self.report.check("list.iss", not bad and all(isinstance(s, dict) for s in r.json),
                              f"entries with wrong iss: {bad}", "SSF §8.1.1.2")

    # --- 4. verification ------------------------------------------------------
    def verify(self) -> None:
        state = secrets.token_urlsafe(18)
        self.ctx.known_states.add(state)
        start = self.inbox.set_phase("verification")
        r = self.http.request("POST", self.meta["verification_endpoint"],
                              body={"stream_id": self.stream_id, "state": state})
        self.expect_status("verification.status", r, 204, "SSF §8.1.4.2")
        if r.status == 204 and r.body:
            self.report.check("verification.empty_body", False, "204 with a body", "SSF §8.1.4.2")
        if r.status not in (200, 202, 204):
            return
        rec = self.inbox.wait_for(lambda x: x["type"] == EV_VERIFICATION and isinstance(x["event"], dict)
                                  and x["event"].get("state") == state, start,
                                  time.time() + min(30.0, max(self.left(15), 1.0)))
        self.report.check("verification.event_received", rec is not None,
                          "verification SET with our state received" if rec else
                          "no verification SET echoing our state arrived", "SSF §8.1.4.1; §8.1.4.2")
        if rec is not None:
            self.report.check("verification.event_valid", rec["ok"],
                              "signature, typ, iss, aud, iat, jti, sub_id, state" if rec["ok"] else
                              "the verification SET failed validation (see set[] checks)", "SSF §8.1.4.1")

    # --- 5. status --------------------------------------------------------------
    def get_status(self, name: str) -> str | None:
        r = self.http.request("GET", with_query(self.meta["status_endpoint"], stream_id=self.stream_id))
        if not (self.expect_status(f"{name}.status", r, 200, "SSF §8.1.2.1")
                and self.expect_json(f"{name}.json", r, dict, "SSF §8.1.2.1")):
            return None
        self.report.check(f"{name}.stream_id", r.json.get("stream_id") == self.stream_id,
                          f"stream_id {r.json.get('stream_id')!r}", "SSF §8.1.2.1")
        st = r.json.get("status")
        self.report.check(f"{name}.value", st in STREAM_STATUSES, f"status {st!r}", "SSF §8.1.2.1")
        if "reason" in r.json and not isinstance(r.json["reason"], str):
            self.report.check(f"{name}.reason", False, "reason must be a string", "SSF §8.1.2.1")
        return st

    def set_status(self, name: str, status: str, reason: str | None) -> bool:
        body = {"stream_id": self.stream_id, "status": status}
        if reason is not None:
            body["reason"] = reason
        r = self.http.request("POST", self.meta["status_endpoint"], body=body)
        if not self.expect_status(f"{name}.status", r, (200, 202), "SSF §8.1.2.2"):
            return False
        if r.status == 202:
            self.report.warn(f"{name}.202", "status update accepted but not processed", "SSF §8.1.2.2")
            return True
        if not self.expect_json(f"{name}.json", r, dict, "SSF §8.1.2.2"):
            return False
        self.report.check(f"{name}.answer", r.json.get("stream_id") == self.stream_id
                          and r.json.get("status") == status,
                          f"answer {r.json}", "SSF §8.1.2.2")
        if reason is not None and r.json.get("reason") != reason:
            self.report.warn(f"{name}.reason", f"reason {r.json.get('reason')!r} not echoed",
                             "SSF §8.1.2.2 (same fields as the request)")
        return True

    def status_checks(self) -> None:
        st = self.get_status("status.get_initial")
        self.report.check("status.initially_enabled", st == "enabled", f"status {st!r}",
                          "SSF §8.1.2.1 (new, verified stream)")
        start = self.inbox.set_phase("paused")
        if self.set_status("status.pause", "paused", "ssf_receiver conformance pause"):
            st = self.get_status("status.get_paused")
            self.report.check("status.paused_read_back", st == "paused", f"status {st!r}", "SSF §8.1.2.1")
        time.sleep(1.0)
        recs = self.inbox.snapshot()[start:]
        bad = [r["jti"] for r in recs if r["phase"] == "paused" and r["type"] != EV_STREAM_UPDATED]
        self.report.check("status.paused_no_events", not bad,
                          f"SETs delivered while paused: {bad}" if bad else "nothing delivered while paused",
                          "SSF §8.1.2.1 (paused: MUST NOT transmit)")
        self.inbox.set_phase("status")
        if self.set_status("status.enable", "enabled", "ssf_receiver conformance resume"):
            st = self.get_status("status.get_enabled")
            self.report.check("status.enabled_read_back", st == "enabled", f"status {st!r}", "SSF §8.1.2.1")
        # disabled is required by the interop profile
        if self.set_status("status.disable", "disabled", "ssf_receiver conformance disable"):
            st = self.get_status("status.get_disabled")
            self.report.check("status.disabled_read_back", st == "disabled", f"status {st!r}",
                              "SSF §8.1.2.1; CAEP-Interop §2.3.5")
        if self.set_status("status.reenable", "enabled", None):
            st = self.get_status("status.get_reenabled")
            self.report.check("status.reenabled_read_back", st == "enabled", f"status {st!r}",
                              "SSF §8.1.2.1")
        r = self.http.request("POST", self.meta["status_endpoint"],
                              body={"stream_id": self.stream_id, "status": "bogus"})
        self.expect_status("status.invalid_value", r, 400, "SSF §8.1.2.2 (400 otherwise invalid)")
        if r.status in (200, 202):   # undo whatever happened
            self.set_status("status.repair", "enabled", None)
        for rec in self.inbox.snapshot()[start:]:
            if rec["type"] == EV_STREAM_UPDATED:
                self.report.warn("status.stream_updated",
                                 f"stream-updated {rec['event']} for a receiver-requested change "
                                 "(allowed, not required)", "SSF §8.1.2; §8.1.5")

    # --- 6. update / replace ------------------------------------------------------
    def update_checks(self) -> None:
        url = self.meta["configuration_endpoint"]
        before = self.stream
        desc = "patched by ssf_receiver " + secrets.token_hex(4)
        r = self.http.request("PATCH", url, body={"stream_id": self.stream_id, "description": desc})
        if self.expect_status("patch.status", r, (200, 202), "SSF §8.1.1.3"):
            if r.status == 202:
                self.report.warn("patch.202", "accepted but not processed", "SSF §8.1.1.3")
                time.sleep(1.0)
                r = self.http.request("GET", with_query(url, stream_id=self.stream_id))
            if self.expect_json("patch.json", r, dict, "SSF §8.1.1.3 (entire updated config)"):
                self.validate_config("patch", r.json, "SSF §8.1.1.3")
                got = r.json.get("description")
                self.report.check("patch.description", isinstance(got, str) and bool(got)
                                  and desc.startswith(got), f"description {got!r}",
                                  "SSF §8.1.1.3 (present Receiver-Supplied members MUST be updated)")
                self.compare_unchanged("patch.unchanged", before, r.json,
                                       list(self.core(before)), "SSF §8.1.1.3 (missing members MUST NOT change)")
                er_b, er_a = before.get("events_requested"), r.json.get("events_requested")
                self.report.check("patch.events_requested_unchanged", er_b == er_a,
                                  f"{er_b} -> {er_a}", "SSF §8.1.1.3")
        r = self.http.request("PATCH", url, body={"stream_id": self.stream_id,
                                                  "iss": "https://wrong-issuer.invalid"})
        self.expect_status("patch.wrong_transmitter_member", r, 400,
                           "SSF §8.1.1.3 (Transmitter-Supplied members MUST match; 400)")

        # PUT: the full set of Receiver-Supplied members.
        d = self.delivery_request()
        if self.args.delivery == "poll":
            d["endpoint_url"] = (before.get("delivery") or {}).get("endpoint_url")
        desc2 = "replaced by ssf_receiver " + secrets.token_hex(4)
        body = {"stream_id": self.stream_id, "delivery": d, "events_requested": self.requested_events(),
                "description": desc2}
        r = self.http.request("PUT", url, body=body)
        if self.expect_status("put.status", r, (200, 202), "SSF §8.1.1.4"):
            if r.status == 202:
                self.report.warn("put.202", "accepted but not processed", "SSF §8.1.1.4")
                time.sleep(1.0)
                r = self.http.request("GET", with_query(url, stream_id=self.stream_id))
            if self.expect_json("put.json", r, dict, "SSF §8.1.1.4"):
                self.validate_config("put", r.json, "SSF §8.1.1.4")
                got = r.json.get("description")
                self.report.check("put.description", isinstance(got, str) and bool(got)
                                  and desc2.startswith(got), f"description {got!r}", "SSF §8.1.1.4")
                self.compare_unchanged("put.unchanged", before, r.json, list(self.core(before)),
                                       "SSF §8.1.1.4 (Transmitter-Supplied members unchanged)")
        # PUT without description: a missing Receiver-Supplied member is deleted.
        body.pop("description")
        r = self.http.request("PUT", url, body=body)
        if self.expect_status("put_delete.status", r, (200, 202), "SSF §8.1.1.4") and r.status == 200 \
                and self.expect_json("put_delete.json", r, dict, "SSF §8.1.1.4"):
            got = r.json.get("description")
            self.report.check("put_delete.description_removed", got in (None, ""),
                              f"description {got!r}",
                              "SSF §8.1.1.4 (missing Receiver-Supplied members MUST be deleted)")
        r = self.http.request("GET", with_query(url, stream_id=self.stream_id))
        if self.expect_status("reread.status", r, 200, "SSF §8.1.1.2") and \
                self.expect_json("reread.json", r, dict, "SSF §8.1.1.2"):
            self.validate_config("reread", r.json, "SSF §8.1.1.2")
            self.compare_unchanged("reread.unchanged", before, r.json, list(self.core(before)),
                                   "SSF §8.1.1.3; §8.1.1.4")
            got = r.json.get("description")
            self.report.check("reread.description_removed", got in (None, ""), f"description {got!r}",
                              "SSF §8.1.1.4")
            self.stream = r.json
            self.ctx.stream = r.json

    # --- 7. ready + expected events --------------------------------------------
    def write_ready(self) -> int:
        start = self.inbox.set_phase("ready")
        if self.args.ready_file:
            atomic_write_json(self.args.ready_file, {"stream_id": self.stream_id})
        print(f"READY stream_id={self.stream_id}", flush=True)
        return start

    def wait_expected(self, start: int) -> None:
        expect = self.args.expect
        if not expect:
            return
        idx = 0
        matched: list[str] = []
        pos = start
        last_status: dict[str, str] = {}
        deadline = self.deadline - 12
        while idx < len(expect):
            rec = self.inbox.wait_for(lambda x: x["type"] == EV_DCC, pos, deadline)
            if rec is None:
                self.report.check("expect.sequence", False,
                                  f"timed out: matched {matched}, still waiting for "
                                  f"{expect[idx][0]}{':' + expect[idx][1] if expect[idx][1] else ''}",
                                  "scenario (--expect)")
                return
            pos = rec["index"] + 1
            if not rec["ok"]:
                continue        # already reported as a failed SET check
            ev = rec["event"] or {}
            want_status, want_entity = expect[idx]
            got = f"{ev.get('current_status')}:{ev.get('initiating_entity')}"
            key = json.dumps((rec["claims"] or {}).get("sub_id"), sort_keys=True)
            if key in last_status and ev.get("previous_status") != last_status[key]:
                self.report.warn("expect.continuity", f"previous_status {ev.get('previous_status')!r} but "
                                                      f"last current_status was {last_status[key]!r}",
                                 "CAEP §3.5.1")
            last_status[key] = ev.get("current_status")
            if ev.get("current_status") == want_status and (want_entity is None or
                                                             ev.get("initiating_entity") == want_entity):
                matched.append(got)
                self.report.check(f"expect[{idx}]", True, f"got {got} (jti {rec['jti']})", "CAEP §3.5")
                idx += 1
            else:
                self.report.check(f"expect[{idx}]", False, f"expected {want_status}"
                                  f"{':' + want_entity if want_entity else ''}, got {got} (jti {rec['jti']})",
                                  "CAEP §3.5 (scenario --expect)")
                return
        self.report.check("expect.sequence", True, f"matched {matched}", "scenario (--expect)")

    # --- 8. negative checks -------------------------------------------------------
    def negative_checks(self) -> None:
        cfg_url = self.meta["configuration_endpoint"]
        st_url = self.meta["status_endpoint"]
        mine = with_query(cfg_url, stream_id=self.stream_id)
        r = self.http.request("GET", mine, token=None)
        self.expect_status("auth.no_token", r, 401, "SSF §8; §8.1.1.2 (401 if authorization missing)")
        if r.status == 401:
            self.report.interop_check("auth.www_authenticate", "bearer" in r.headers.get("www-authenticate", "").lower(),
                                      f"WWW-Authenticate {r.headers.get('www-authenticate')!r}",
                                      "CAEP-Interop §2.7.3; RFC 6750 §3")
        r = self.http.request("GET", mine, token="invalid." + secrets.token_urlsafe(12) + ".token")
        self.expect_status("auth.bad_token", r, 401, "SSF §8.1.1.2; RFC 6750 §3.1 (invalid_token)")
        for i, tok in enumerate(self.args.reject_token or []):
            r = self.http.request("GET", mine, token=tok)
            self.expect_status(f"auth.reject_token[{i}]", r, 401, "RFC 9068 §4; RFC 6750 §3.1")
        if self.args.token:
            r = self.http.request("GET", with_query(mine, access_token=self.args.token), token=None)
            self.report.interop_check("auth.query_token_refused", r.status in (400, 401),
                                      f"token in query answered {r.describe()}",
                                      "CAEP-Interop §2.7.3 (MUST NOT accept tokens in query)")
        r = self.http.request("GET", with_query(st_url, stream_id=self.stream_id), token=None)
        self.expect_status("auth.status_no_token", r, 401, "SSF §8.1.2.1 (MUST respond 401)")
        ghost = "no-such-stream-" + secrets.token_hex(8)
        r = self.http.request("GET", with_query(cfg_url, stream_id=ghost))
        self.expect_status("notfound.read", r, 404, "SSF §8.1.1.2")
        r = self.http.request("GET", with_query(st_url, stream_id=ghost))
        self.expect_status("notfound.status", r, 404, "SSF §8.1.2.1 (MUST respond 404)")
        r = self.http.request("POST", self.meta["verification_endpoint"],
                              body={"stream_id": ghost, "state": "x"})
        self.expect_status("notfound.verification", r, 404, "SSF §8.1.4.2")
        r = self.http.request("PATCH", cfg_url, body={"stream_id": ghost, "description": "x"})
        self.expect_status("notfound.patch", r, 404, "SSF §8.1.1.3")
        self.default_delivery_check()
        if self.args.delivery == "poll":
            r = self.http.request("POST", self.poll_url, body={"maxEvents": 0, "returnImmediately": True},
                                  token=None)
            if r.status not in (401, 403):
                self.report.warn("auth.poll_no_token", f"unauthenticated poll answered {r.describe()}",
                                 "SSF §7.1.1 (SHOULD protect the poll endpoint)")

    def default_delivery_check(self) -> None:
        """SSF §8.1.1.1: a create request without 'delivery' means poll."""
        url = self.meta["configuration_endpoint"]
        r = self.http.request("POST", url, body={"events_requested": [EV_DCC],
                                                 "description": "ssf_receiver default-delivery probe"})
        if r.status == 409:
            self.report.warn("create_default.409", "single-stream transmitter; default delivery not probed",
                             "SSF §8.1.1.1")
            return
        if r.status == 400:
            self.report.interop_check("create_default.poll_supported", False,
                                      "create without delivery (=> poll) answered 400",
                                      "SSF §8.1.1.1; CAEP-Interop §2.3.8.1")
            return
        if not self.expect_status("create_default.status", r, 201, "SSF §8.1.1.1"):
            return
        cfg = r.json if isinstance(r.json, dict) else {}
        d = cfg.get("delivery") if isinstance(cfg.get("delivery"), dict) else {}
        self.report.check("create_default.poll", d.get("method") == POLL and _nonempty_str(d.get("endpoint_url")),
                          f"delivery {d}", "SSF §8.1.1.1 (no delivery => poll, with endpoint_url)")
        other = cfg.get("stream_id")
        self.report.check("create_default.new_stream_id", _nonempty_str(other) and other != self.stream_id,
                          f"stream_id {other!r}", "SSF §8.1.1.1 (new stream ID)")
        if _nonempty_str(other) and other != self.stream_id:
            dr = self.http.request("DELETE", with_query(url, stream_id=other))
            self.expect_status("create_default.delete", dr, 204, "SSF §8.1.1.5")

    # --- 9. delete --------------------------------------------------------------------
    def delete_stream(self) -> None:
        self.stop_poller()
        url = self.meta["configuration_endpoint"]
        mine = with_query(url, stream_id=self.stream_id)
        r = self.http.request("DELETE", mine)
        self.expect_status("delete.status", r, 204, "SSF §8.1.1.5")
        if r.status == 204 and r.body:
            self.report.check("delete.empty_body", False, "204 with a body", "SSF §8.1.1.5")
        if r.status in (200, 202, 204):
            self.deleted = True
        r = self.http.request("GET", mine)
        self.expect_status("delete.read_404", r, 404, "SSF §8.1.1.2; §8.1.1.5")
        r = self.http.request("GET", url)
        if r.status == 200 and isinstance(r.json, list):
            ids = [s.get("stream_id") for s in r.json if isinstance(s, dict)]
            self.report.check("delete.list_excludes", self.stream_id not in ids, f"stream ids {ids}",
                              "SSF §8.1.1.2")
        r = self.http.request("DELETE", mine)
        self.expect_status("delete.again_404", r, 404, "SSF §8.1.1.5")
        r = self.http.request("GET", with_query(self.meta["status_endpoint"], stream_id=self.stream_id))
        self.expect_status("delete.status_404", r, 404, "SSF §8.1.2.1")

    # --- driver -----------------------------------------------------------------------
    def run(self) -> bool:
        try:
            self.discover()
            if self.args.delivery == "push":
                self.start_push()
            self.create_stream()
            self.read_stream()
            self.verify()
            self.status_checks()
            self.update_checks()
            start = self.write_ready()
            self.wait_expected(start)
            self.negative_checks()
            self.delete_stream()
        except Abort as e:
            self.report.check("scenario", False, f"aborted: {e}", "scenario")
        except Exception as e:  # noqa: BLE001
            import traceback
            traceback.print_exc()
            self.report.check("scenario", False, f"receiver error {type(e).__name__}: {e}", "scenario")
        finally:
            self.stop_poller()
            if self.stream_id and not self.deleted and self.meta.get("configuration_endpoint"):
                self.http.request("DELETE", with_query(self.meta["configuration_endpoint"],
                                                       stream_id=self.stream_id))
            if self.push_server is not None:
                self.push_server.shutdown()
                self.push_server.server_close()
        # jti uniqueness across everything received
        dups = {j: n for j, n in self.seen_jti.items() if n > 1}
        if dups:
            self.report.warn("set.jti_duplicates", f"jti values received more than once: {dups}",
                             "RFC 8417 §2.2")
        rep = self.report.to_json()
        rep["stream_id"] = self.stream_id
        rep["sets_received"] = len(self.inbox.snapshot())
        if self.args.report:
            atomic_write_json(self.args.report, rep)
        failed = [c for c in rep["checks"] if not c["ok"]]
        print(f"{'PASSED' if rep['passed'] else 'FAILED'}: {len(rep['checks']) - len(failed)}/"
              f"{len(rep['checks'])} checks passed, {len(rep['warnings'])} warnings", flush=True)
        for c in failed:
            print(f"FAILED CHECK {c['name']}: {c['detail']} [{c['spec']}]", file=sys.stderr)
        return rep["passed"]


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------

def parse_expect(s: str | None):
    if not s:
        return []
    out = []
    for item in s.split(","):
        item = item.strip()
        if not item:
            continue
        status, _, entity = item.partition(":")
        if status not in COMPLIANCE:
            raise argparse.ArgumentTypeError(f"--expect status {status!r} must be one of {COMPLIANCE}")
        if entity and entity not in INITIATING_ENTITIES:
            raise argparse.ArgumentTypeError(f"--expect entity {entity!r} must be one of {INITIATING_ENTITIES}")
        out.append((status, entity or None))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="SSF 1.0 conformance receiver")
    ap.add_argument("--transmitter", required=True, help="transmitter issuer URL (https)")
    ap.add_argument("--cafile", help="PEM CA bundle that signs the transmitter's TLS certificate")
    ap.add_argument("--token", help="bearer token for the management API")
    ap.add_argument("--token-file", help="file holding the bearer token")
    ap.add_argument("--delivery", choices=("push", "poll"), default="push")
    ap.add_argument("--push-host", default="127.0.0.1", help="host for the push endpoint")
    ap.add_argument("--push-cert", help="PEM certificate: serve the push endpoint over HTTPS")
    ap.add_argument("--push-key", help="PEM key of --push-cert")
    ap.add_argument("--audience", help="stream aud the receiver expects (checked, not requested)")
    ap.add_argument("--expect", type=parse_expect, default=[],
                    help="STATUS[:ENTITY],... device-compliance-change events expected after ready")
    ap.add_argument("--ready-file", help="written atomically as {\"stream_id\":...} when ready")
    ap.add_argument("--report", help="JSON report path")
    ap.add_argument("--timeout", type=float, default=120.0, help="overall timeout in seconds")
    ap.add_argument("--reject-token", action="append", default=[],
                    help="a token the transmitter must reject with 401 (repeatable)")
    ap.add_argument("--no-interop", action="store_true",
                    help="treat CAEP interoperability-profile requirements as warnings")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    if args.token_file:
        with open(args.token_file) as f:
            args.token = f.read().strip()
    if not args.token:
        ap.error("--token or --token-file is required")
    if not args.transmitter.startswith("https://"):
        print("WARN --transmitter is not https; SSF §7.2 requires https", file=sys.stderr)
    return 0 if Receiver(args).run() else 1


if __name__ == "__main__":
    sys.exit(main())
