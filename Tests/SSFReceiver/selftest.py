#!/usr/bin/python3
"""Self-test of ssf_receiver.py and oauth_issuer.py without the real transmitter.

  /usr/bin/python3 selftest.py            # unit tests + end-to-end runs against a mock
  /usr/bin/python3 selftest.py -k unit    # unit tests only

The mock transmitter below is a *test fixture for the receiver* (a few hundred
lines, deliberately naive); it is not a reference implementation.  Fault
injection switches let the end-to-end tests prove that the receiver notices
broken transmitters.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import http.server
import ipaddress
import json
import os
import secrets
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ssf_receiver as R  # noqa: E402

jwt = R.jwt
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402


def b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def rsa_jwk(key, kid):
    n = key.public_key().public_numbers()
    return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
            "n": b64u(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")),
            "e": b64u(n.e.to_bytes((n.e.bit_length() + 7) // 8, "big"))}


def ec_jwk(key, kid):
    n = key.public_key().public_numbers()
    return {"kty": "EC", "kid": kid, "crv": "P-256", "use": "sig", "alg": "ES256",
            "x": b64u(n.x.to_bytes(32, "big")), "y": b64u(n.y.to_bytes(32, "big"))}


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
JWKS = {"keys": [rsa_jwk(RSA_KEY, "r1"), ec_jwk(EC_KEY, "e1")]}
ISS = "https://tx.example"
AUD = "https://rx.example"
SID = "stream-123"


def mint(claims, key=RSA_KEY, alg="RS256", kid="r1", typ="secevent+jwt", extra_headers=None):
    headers = {"kid": kid, "typ": typ}
    if typ is None:
        headers.pop("typ")
    if kid is None:
        headers.pop("kid")
    headers.update(extra_headers or {})
    t = jwt.encode(claims, key, algorithm=alg, headers=headers)
    return t.decode() if isinstance(t, bytes) else t


def base_claims(event_type, event, sub_id=None):
    return {"iss": ISS, "aud": AUD, "iat": int(time.time()), "jti": secrets.token_hex(8), "txn": "t1",
            "sub_id": sub_id or {"format": "complex",
                                 "device": {"format": "iss_sub", "iss": ISS, "sub": "dev-1"},
                                 "user": {"format": "email", "email": "u@example.com"}},
            "events": {event_type: event}}


def dcc(cur="not-compliant", prev="compliant", **kw):
    ev = {"current_status": cur, "previous_status": prev, "initiating_entity": "admin",
          "event_timestamp": int(time.time()), "reason_admin": {"en": "policy"}}
    ev.update(kw)
    return ev


def make_ctx(interop=True):
    ctx = R.SetContext(ISS, R.KeyStore(JWKS), interop=interop)
    ctx.stream = {"stream_id": SID, "iss": ISS, "aud": AUD,
                  "events_delivered": [R.EV_DCC, R.EV_VERIFICATION, R.EV_STREAM_UPDATED]}
    ctx.known_states.add("st-1")
    return ctx


def hard_names(res, interop=True):
    return sorted({p.name for p in res.hard(interop)})


# ---------------------------------------------------------------------------
# Unit tests
# ---------------------------------------------------------------------------

class SetValidation(unittest.TestCase):
    def test_valid_dcc_rs256(self):
        res = R.validate_set(mint(base_claims(R.EV_DCC, dcc())), make_ctx())
        self.assertEqual(hard_names(res), [])
        self.assertTrue(res.signature_ok)

    def test_valid_dcc_es256_without_interop(self):
        tok = mint(base_claims(R.EV_DCC, dcc()), key=EC_KEY, alg="ES256", kid="e1")
        self.assertEqual(hard_names(R.validate_set(tok, make_ctx(interop=False)), False), [])
        self.assertEqual(hard_names(R.validate_set(tok, make_ctx())), ["set.alg"])   # interop: RS256

    def test_verification(self):
        sub = {"format": "opaque", "id": SID}
        ok = R.validate_set(mint(base_claims(R.EV_VERIFICATION, {"state": "st-1"}, sub)), make_ctx())
        self.assertEqual(hard_names(ok), [])
        no_state = R.validate_set(mint(base_claims(R.EV_VERIFICATION, {}, sub)), make_ctx())
        self.assertEqual(hard_names(no_state), [])
        bad = R.validate_set(mint(base_claims(R.EV_VERIFICATION, {"state": "nope"}, sub)), make_ctx())
        self.assertEqual(hard_names(bad), ["verification.state"])
        self.assertEqual(bad.hard(True)[0].err, "invalid_state")
        wrong_sub = R.validate_set(mint(base_claims(R.EV_VERIFICATION, {"state": "st-1"},
                                                    {"format": "opaque", "id": "other"})), make_ctx())
        self.assertEqual(hard_names(wrong_sub), ["set.sub_id"])
        email_sub = R.validate_set(mint(base_claims(R.EV_VERIFICATION, {"state": "st-1"},
                                                    {"format": "email", "email": "a@b"})), make_ctx())
        self.assertEqual(hard_names(email_sub), ["set.sub_id"])

    def test_stream_updated(self):
        sub = {"format": "opaque", "id": SID}
        self.assertEqual(hard_names(R.validate_set(
            mint(base_claims(R.EV_STREAM_UPDATED, {"status": "paused", "reason": "x"}, sub)), make_ctx())), [])
        self.assertEqual(hard_names(R.validate_set(
            mint(base_claims(R.EV_STREAM_UPDATED, {"status": "stopped"}, sub)), make_ctx())),
            ["stream_updated.status"])

    def test_header_problems(self):
        c = base_claims(R.EV_DCC, dcc())
        self.assertEqual(hard_names(R.validate_set(mint(c, typ="JWT"), make_ctx())), ["set.typ"])
        self.assertEqual(hard_names(R.validate_set(mint(c, typ=None), make_ctx())), ["set.typ"])
        self.assertEqual(hard_names(R.validate_set(mint(c, kid="zz"), make_ctx())), ["set.kid"])
        self.assertEqual(hard_names(R.validate_set(mint(c, key=OTHER_RSA), make_ctx())), ["set.signature"])
        # no kid but a single RSA key: accepted with a warning
        res = R.validate_set(mint(c, kid=None), make_ctx())
        self.assertEqual(hard_names(res), [])
        self.assertIn("set.kid", [p.name for p in res.problems if p.level == "warn"])
        hs = jwt.encode(c, "secret-secret-secret-secret-secret", algorithm="HS256",
                        headers={"typ": "secevent+jwt"})
        self.assertIn("set.alg", hard_names(R.validate_set(hs, make_ctx())))
        unsigned = b64u(b'{"alg":"none","typ":"secevent+jwt"}') + "." + b64u(json.dumps(c).encode()) + "."
        self.assertIn("set.alg", hard_names(R.validate_set(unsigned, make_ctx())))
        self.assertEqual(hard_names(R.validate_set("a.b", make_ctx())), ["set.serialization"])

    def test_claim_problems(self):
        def names(mutate):
            c = base_claims(R.EV_DCC, dcc())
            mutate(c)
            return hard_names(R.validate_set(mint(c), make_ctx()))
        self.assertEqual(names(lambda c: c.update(iss="https://evil")), ["set.iss"])
        self.assertEqual(names(lambda c: c.update(aud="https://else")), ["set.aud"])
        self.assertEqual(names(lambda c: c.update(aud=[AUD, "https://else"])), ["set.aud"])
        self.assertEqual(names(lambda c: c.update(aud=[AUD])), [])
        self.assertEqual(names(lambda c: c.update(exp=int(time.time()) + 60)), ["set.exp"])
        self.assertEqual(names(lambda c: c.update(sub="x")), ["set.sub"])
        self.assertEqual(names(lambda c: c.pop("sub_id")), ["set.sub_id"])
        self.assertEqual(names(lambda c: c.pop("jti")), ["set.jti"])
        self.assertEqual(names(lambda c: c.pop("iat")), ["set.iat"])
        self.assertEqual(names(lambda c: c.update(iat=int(time.time()) + 3600)), ["set.iat"])
        self.assertEqual(names(lambda c: c.update(txn=5)), ["set.txn"])
        self.assertEqual(names(lambda c: c["events"].update({R.EV_VERIFICATION: {}})), ["set.events"])
        self.assertEqual(names(lambda c: c.update(events={"urn:x:other": {}})), ["set.events"])
        self.assertEqual(names(lambda c: c.update(sub_id={"format": "iss_sub", "iss": ISS})), ["set.sub_id"])
        self.assertEqual(names(lambda c: c.update(sub_id={"format": "complex"})), ["set.sub_id"])
        self.assertEqual(names(lambda c: c.update(sub_id={"format": "complex", "device": {
            "format": "complex", "user": {"format": "email", "email": "a@b"}}})), ["set.sub_id.device"])
        self.assertEqual(names(lambda c: c.update(sub_id={"format": "email", "email": ""})), ["set.sub_id"])

    def test_dcc_members(self):
        def names(**kw):
            ev = dcc()
            for k, v in kw.items():
                if v is None:
                    ev.pop(k)
                else:
                    ev[k] = v
            return hard_names(R.validate_set(mint(base_claims(R.EV_DCC, ev)), make_ctx()))
        self.assertEqual(names(current_status="noncompliant"), ["dcc.current_status"])
        self.assertEqual(names(previous_status=None), ["dcc.previous_status"])
        self.assertEqual(names(initiating_entity="robot"), ["dcc.initiating_entity"])
        self.assertEqual(names(reason_admin="text"), ["dcc.reason_admin"])
        self.assertEqual(names(reason_user={}), ["dcc.reason_user"])
        self.assertEqual(names(reason_user={"english!": "x"}), ["dcc.reason_user"])
        self.assertEqual(names(event_timestamp="yesterday"), ["dcc.event_timestamp"])
        self.assertEqual(names(event_timestamp=int(time.time() * 1000)), ["dcc.event_timestamp"])
        self.assertEqual(names(event_timestamp=None, initiating_entity=None, reason_admin=None), [])


class SubjectIds(unittest.TestCase):
    def test_formats(self):
        good = [{"format": "account", "uri": "acct:a@b.c"}, {"format": "email", "email": "a@b.c"},
                {"format": "iss_sub", "iss": "https://i", "sub": "s"}, {"format": "opaque", "id": "x"},
                {"format": "phone_number", "phone_number": "+12065550100"},
                {"format": "did", "url": "did:example:1"}, {"format": "uri", "uri": "https://u"},
                {"format": "aliases", "identifiers": [{"format": "email", "email": "a@b.c"}]},
                {"format": "complex", "device": {"format": "iss_sub", "iss": "https://i", "sub": "d"},
                 "tenant": {"format": "opaque", "id": "t"}}]
        for g in good:
            self.assertEqual([p for p in R.validate_subject_id(g) if p.level != "warn"], [], g)
        bad = [{"format": "account", "uri": "a@b.c"}, {"format": "phone_number", "phone_number": "555"},
               {"format": "uri", "uri": "no-scheme"}, {"format": "opaque"}, {"id": "x"}, "str",
               {"format": "aliases", "identifiers": []},
               {"format": "aliases", "identifiers": [{"format": "aliases", "identifiers": []}]}]
        for b in bad:
            self.assertTrue([p for p in R.validate_subject_id(b) if p.level != "warn"], b)
        self.assertEqual([p.level for p in R.validate_subject_id({"format": "catalog_item", "x": 1})], ["warn"])


class Metadata(unittest.TestCase):
    GOOD = {"spec_version": "1_0", "issuer": ISS, "jwks_uri": ISS + "/jwks.json",
            "delivery_methods_supported": [R.PUSH, R.POLL],
            "configuration_endpoint": ISS + "/ssf/stream", "status_endpoint": ISS + "/ssf/status",
            "verification_endpoint": ISS + "/ssf/verify",
            "authorization_schemes": [{"spec_urn": R.OAUTH_SPEC_URN}], "default_subjects": "ALL"}

    def test_good(self):
        self.assertEqual(R.validate_metadata(dict(self.GOOD), ISS, R.PUSH), [])

    def test_bad(self):
        def names(**kw):
            d = dict(self.GOOD)
            for k, v in kw.items():
                if v is None:
                    d.pop(k)
                else:
                    d[k] = v
            return sorted({(p.name, p.level) for p in R.validate_metadata(d, ISS, R.PUSH)})
        self.assertEqual(names(issuer=ISS + "/"), [("metadata.issuer", "error")])
        self.assertEqual(names(issuer=None), [("metadata.issuer", "error")])
        self.assertEqual(names(jwks_uri="http://tx.example/jwks"), [("metadata.jwks_uri", "error")])
        self.assertEqual(names(spec_version=None), [("metadata.spec_version", "interop")])
        self.assertEqual(names(spec_version="1_0-ID2"), [("metadata.spec_version", "warn")])
        self.assertEqual(names(authorization_schemes=[{"spec_urn": "urn:ietf:rfc:8705"}]),
                         [("metadata.authorization_schemes", "interop")])
        self.assertEqual(names(default_subjects="SOME"), [("metadata.default_subjects", "error")])
        self.assertEqual(names(critical_subject_members=[]), [("metadata.critical_subject_members", "error")])
        self.assertEqual(names(status_endpoint="http://x/s"), [("metadata.status_endpoint", "error")])

    def test_discovery_url(self):
        self.assertEqual(R.discovery_url("https://tr.example.com"),
                         "https://tr.example.com/.well-known/ssf-configuration")
        self.assertEqual(R.discovery_url("https://tr.example.com/issuer1/"),
                         "https://tr.example.com/.well-known/ssf-configuration/issuer1")


class StreamConfig(unittest.TestCase):
    def test_config(self):
        cfg = {"stream_id": "s1", "iss": ISS, "aud": AUD, "events_supported": [R.EV_DCC],
               "events_requested": [R.EV_DCC], "events_delivered": [R.EV_DCC],
               "delivery": {"method": R.POLL, "endpoint_url": ISS + "/poll/s1"}}
        self.assertEqual(R.validate_stream_config(cfg, ISS, R.POLL, AUD), [])
        bad = dict(cfg, events_delivered=[R.EV_DCC, "urn:x"], iss="https://x", aud=[])
        self.assertEqual(sorted(p.name for p in R.validate_stream_config(bad, ISS, R.POLL)),
                         ["stream.aud", "stream.events_delivered", "stream.events_delivered", "stream.iss"])
        self.assertEqual([p.name for p in R.validate_stream_config(cfg, ISS, R.POLL, "https://other")],
                         ["stream.aud"])


# ---------------------------------------------------------------------------
# Certificates for the end-to-end tests
# ---------------------------------------------------------------------------

def make_certs(directory):
    now = datetime.datetime.utcnow()
    cak = ec.generate_private_key(ec.SECP256R1())
    can = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "selftest CA")])
    ca = (x509.CertificateBuilder().subject_name(can).issuer_name(can).public_key(cak.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(cak, hashes.SHA256()))
    k = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(can).public_key(k.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(cak, hashes.SHA256()))
    paths = {n: os.path.join(directory, n) for n in ("ca.pem", "server.pem", "server.key")}
    with open(paths["ca.pem"], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths["server.pem"], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths["server.key"], "wb") as f:
        f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()))
    return paths


# ---------------------------------------------------------------------------
# Mock transmitter (fixture)
# ---------------------------------------------------------------------------

class MockTransmitter:
    """faults: set of strings, e.g. {'typ', 'verify_200', 'no_404', 'patch_changes_aud',
    'events_while_paused', 'bad_status', 'put_keeps_description', 'exp_claim'}"""

    def __init__(self, certs, token, faults=(), alg="RS256"):
        self.token, self.faults, self.alg = token, set(faults), alg
        self.key = RSA_KEY if alg == "RS256" else EC_KEY
        self.kid = "r1" if alg == "RS256" else "e1"
        self.streams: dict[str, dict] = {}
        self.status: dict[str, str] = {}
        self.queues: dict[str, dict] = {}     # poll: stream -> {jti: set}
        self.lock = threading.Lock()
        mock = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def send(self, code, obj=None, extra=None):
                data = json.dumps(obj).encode() if obj is not None else b""
                self.send_response(code)
                if obj is not None:
                    self.send_header("Content-Type", "application/json")
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def body(self):
                n = int(self.headers.get("Content-Length") or 0)
                try:
                    return json.loads(self.rfile.read(n)) if n else None
                except json.JSONDecodeError:
                    return "invalid"

            def route(self, method):
                u = urllib.parse.urlparse(self.path)
                q = dict(urllib.parse.parse_qsl(u.query))
                if u.path == "/.well-known/ssf-configuration" and method == "GET":
                    return self.send(200, mock.metadata())
                if u.path == "/jwks.json":
                    return self.send(200, JWKS)
                if self.headers.get("Authorization") != f"Bearer {mock.token}":
                    return self.send(401, {"error": "invalid_token"},
                                     {"WWW-Authenticate": 'Bearer error="invalid_token"'})
                body = self.body() if method in ("POST", "PATCH", "PUT") else None
                if body == "invalid":
                    return self.send(400)
                return mock.handle(self, method, u.path, q, body)

            def do_GET(self):  # noqa: N802
                self.route("GET")

            def do_POST(self):  # noqa: N802
                self.route("POST")

            def do_PATCH(self):  # noqa: N802
                self.route("PATCH")

            def do_PUT(self):  # noqa: N802
                self.route("PUT")

            def do_DELETE(self):  # noqa: N802
                self.route("DELETE")

        class S(http.server.ThreadingHTTPServer):
            daemon_threads = True

        self.srv = S(("127.0.0.1", 0), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certs["server.pem"], certs["server.key"])
        self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
        self.issuer = f"https://127.0.0.1:{self.srv.server_address[1]}"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()

    def metadata(self):
        i = self.issuer
        return {"spec_version": "1_0", "issuer": i, "jwks_uri": i + "/jwks.json",
                "delivery_methods_supported": [R.PUSH, R.POLL],
                "configuration_endpoint": i + "/ssf/stream", "status_endpoint": i + "/ssf/status",
                "verification_endpoint": i + "/ssf/verify",
                "authorization_schemes": [{"spec_urn": R.OAUTH_SPEC_URN}], "default_subjects": "ALL"}

    # --- events ------------------------------------------------------------
    def make_set(self, sid, etype, event, sub_id):
        cfg = self.streams[sid]
        claims = {"iss": self.issuer, "aud": cfg["aud"], "iat": int(time.time()),
                  "jti": secrets.token_hex(12), "txn": secrets.token_hex(6), "sub_id": sub_id,
                  "events": {etype: event}}
        if "exp_claim" in self.faults:
            claims["exp"] = int(time.time()) + 300
        return mint(claims, key=self.key, alg=self.alg, kid=self.kid,
                    typ="JWT" if "typ" in self.faults else "secevent+jwt")

    def emit(self, sid, etype, event, sub_id, force=False):
        if not force and self.status.get(sid) != "enabled" and "events_while_paused" not in self.faults:
            return
        tok = self.make_set(sid, etype, event, sub_id)
        d = self.streams[sid]["delivery"]
        if d["method"] == R.POLL:
            with self.lock:
                self.queues[sid][jwt.decode(tok, options={"verify_signature": False})["jti"]] = tok
            return
        req = urllib.request.Request(d["endpoint_url"], data=tok.encode(), method="POST",
                                     headers={"Content-Type": "application/secevent+jwt",
                                              "Accept": "application/json",
                                              **({"Authorization": d["authorization_header"]}
                                                 if d.get("authorization_header") else {})})
        try:
            urllib.request.urlopen(req, timeout=5).read()
        except Exception as e:  # noqa: BLE001
            print(f"mock push failed: {e}", file=sys.stderr)

    def emit_dcc(self, cur, prev, entity):
        for sid in list(self.streams):
            self.emit(sid, R.EV_DCC, {"current_status": cur, "previous_status": prev,
                                      "initiating_entity": entity, "event_timestamp": int(time.time()),
                                      "reason_admin": {"en": "selftest"}},
                      {"format": "complex", "device": {"format": "iss_sub", "iss": self.issuer, "sub": "dev-1"},
                       "user": {"format": "email", "email": "u@example.com"}})

    # --- management API ---------------------------------------------------------
    def handle(self, h, method, path, q, body):
        if path == "/ssf/stream":
            return self.stream_api(h, method, q, body)
        if path == "/ssf/status":
            sid = q.get("stream_id") if method == "GET" else (body or {}).get("stream_id")
            if sid not in self.streams:
                return h.send(200 if "no_404" in self.faults else 404)
            if method == "GET":
                return h.send(200, {"stream_id": sid, "status": self.status[sid]})
            st = body.get("status")
            if st not in R.STREAM_STATUSES and "bad_status" not in self.faults:
                return h.send(400)
            self.status[sid] = st
            out = {"stream_id": sid, "status": st}
            if "reason" in body:
                out["reason"] = body["reason"]
            if "events_while_paused" in self.faults and st == "paused":
                threading.Thread(target=self.emit_dcc, args=("compliant", "compliant", "system")).start()
            return h.send(200, out)
        if path == "/ssf/verify" and method == "POST":
            sid = (body or {}).get("stream_id")
            if sid not in self.streams:
                return h.send(404)
            ev = {"state": body["state"]} if "state" in body else {}
            threading.Thread(target=self.emit, args=(sid, R.EV_VERIFICATION, ev,
                                                     {"format": "opaque", "id": sid}, True)).start()
            return h.send(200, {}) if "verify_200" in self.faults else h.send(204)
        if path.startswith("/ssf/poll/") and method == "POST":
            sid = path.rsplit("/", 1)[-1]
            if sid not in self.streams:
                return h.send(404)
            with self.lock:
                qd = self.queues[sid]
                for j in body.get("ack", []):
                    qd.pop(j, None)
                for j in body.get("setErrs", {}):
                    qd.pop(j, None)
                n = body.get("maxEvents", 10)
                sets = dict(list(qd.items())[:n])
            return h.send(200, {"sets": sets, "moreAvailable": len(qd) > len(sets)})
        return h.send(404)

    def stream_api(self, h, method, q, body):
        if method == "POST":
            sid = secrets.token_hex(8)
            d = dict((body or {}).get("delivery") or {"method": R.POLL})
            if d["method"] == R.POLL:
                d["endpoint_url"] = f"{self.issuer}/ssf/poll/{sid}"
                self.queues[sid] = {}
            sup = [R.EV_DCC, R.EV_VERIFICATION, R.EV_STREAM_UPDATED]
            req = (body or {}).get("events_requested", [])
            cfg = {"stream_id": sid, "iss": self.issuer, "aud": "https://receiver.example",
                   "delivery": d, "events_supported": sup, "events_requested": req,
                   "events_delivered": [e for e in sup if e in req]}
            if "description" in (body or {}):
                cfg["description"] = body["description"]
            self.streams[sid], self.status[sid] = cfg, "enabled"
            return h.send(201, cfg)
        if method == "GET":
            if "stream_id" not in q:
                return h.send(200, list(self.streams.values()))
            cfg = self.streams.get(q["stream_id"])
            return h.send(200, cfg) if cfg else h.send(200 if "no_404" in self.faults else 404)
        if method == "DELETE":
            if self.streams.pop(q.get("stream_id"), None) is None:
                return h.send(404)
            return h.send(204)
        sid = (body or {}).get("stream_id")
        cfg = self.streams.get(sid)
        if cfg is None:
            return h.send(404)
        for k in ("iss", "aud", "events_supported", "events_delivered"):
            if k in body and body[k] != cfg[k]:
                return h.send(400)
        new = dict(cfg)
        if method == "PUT":
            for k in ("events_requested", "description"):
                if "put_keeps_description" in self.faults and k == "description":
                    continue
                new.pop(k, None)
        for k in ("events_requested", "description", "delivery"):
            if k in body:
                new[k] = body[k]
        if "patch_changes_aud" in self.faults:
            new["aud"] = "https://changed.example"
        self.streams[sid] = new
        return h.send(200, new)


class EndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ssf-selftest-")
        cls.certs = make_certs(cls.tmp)

    def run_receiver(self, delivery, faults=(), expect="not-compliant:admin,compliant:admin",
                     extra=(), alg="RS256", events=(("not-compliant", "compliant", "admin"),
                                                    ("compliant", "not-compliant", "admin"))):
        token = secrets.token_urlsafe(16)
        mock = MockTransmitter(self.certs, token, faults, alg)
        ready = os.path.join(self.tmp, f"ready-{secrets.token_hex(4)}.json")
        report = os.path.join(self.tmp, f"report-{secrets.token_hex(4)}.json")

        def trigger():
            for _ in range(600):
                if os.path.exists(ready):
                    break
                time.sleep(0.1)
            else:
                return
            with open(ready) as f:
                assert "stream_id" in json.load(f)
            for cur, prev, ent in events:
                time.sleep(0.3)
                mock.emit_dcc(cur, prev, ent)
        t = threading.Thread(target=trigger, daemon=True)
        t.start()
        args = ["--transmitter", mock.issuer, "--cafile", self.certs["ca.pem"], f"--token={token}",
                "--delivery", delivery, "--expect", expect, "--ready-file", ready, "--report", report,
                "--timeout", "60", *extra]
        try:
            rc = R.main(args)
        finally:
            mock.close()
        with open(report) as f:
            rep = json.load(f)
        return rc, rep, {c["name"] for c in rep["checks"] if not c["ok"]}

    def test_push_clean(self):
        rc, rep, failed = self.run_receiver("push")
        self.assertEqual((rc, failed), (0, set()))
        self.assertGreaterEqual(rep["sets_received"], 3)

    def test_poll_clean(self):
        rc, rep, failed = self.run_receiver("poll", extra=["--audience", "https://receiver.example"])
        self.assertEqual((rc, failed), (0, set()))

    def test_es256_needs_no_interop(self):
        rc, _, failed = self.run_receiver("push", alg="ES256", extra=["--no-interop"])
        self.assertEqual((rc, failed), (0, set()))
        rc, _, failed = self.run_receiver("push", alg="ES256")
        self.assertEqual(rc, 1)
        self.assertTrue(any(n.endswith("via push jti=" + n.split("jti=")[-1]) for n in failed))

    def test_faults_detected(self):
        rc, _, failed = self.run_receiver("push", faults={"typ"})
        self.assertEqual(rc, 1)
        self.assertIn("verification.event_valid", failed)
        self.assertIn("expect.sequence", failed)
        rc, _, failed = self.run_receiver("poll", faults={"verify_200", "no_404", "put_keeps_description"})
        self.assertEqual(rc, 1)
        self.assertTrue({"verification.status", "notfound.read", "notfound.status",
                         "put_delete.description_removed", "delete.read_404"} <= failed, failed)
        rc, _, failed = self.run_receiver("push", faults={"patch_changes_aud", "bad_status"})
        self.assertTrue({"patch.unchanged", "status.invalid_value"} <= failed, failed)
        rc, _, failed = self.run_receiver("push", faults={"events_while_paused"})
        self.assertIn("status.paused_no_events", failed)

    def test_wrong_expectation(self):
        rc, _, failed = self.run_receiver("push", expect="compliant:admin")
        self.assertEqual(rc, 1)
        self.assertIn("expect[0]", failed)

    def test_timeout_on_missing_events(self):
        rc, _, failed = self.run_receiver("poll", events=(), extra=["--timeout", "40"])
        self.assertEqual(rc, 1)
        self.assertIn("expect.sequence", failed)


class OAuthIssuer(unittest.TestCase):
    def test_serve_and_mint(self):
        tmp = tempfile.mkdtemp(prefix="ssf-oauth-")
        certs = make_certs(tmp)
        portf = os.path.join(tmp, "port")
        d = os.path.join(tmp, "as")
        script = os.path.join(HERE, "oauth_issuer.py")
        p = subprocess.Popen([sys.executable, script, "serve", "--dir", d, "--cert", certs["server.pem"],
                              "--key", certs["server.key"], "--host", "127.0.0.1", "--port-file", portf],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                if os.path.exists(portf):
                    break
                time.sleep(0.1)
            with open(portf) as f:
                port = int(f.read())
            iss = f"https://127.0.0.1:{port}"
            ctx = ssl.create_default_context(cafile=certs["ca.pem"])
            jwks = json.load(urllib.request.urlopen(iss + "/jwks.json", context=ctx))
            keys = {k["kid"]: k for k in jwks["keys"]}

            def mint_(*extra):
                return subprocess.check_output([sys.executable, script, "mint", "--dir", d, "--iss", iss,
                                                "--aud", "https://tx", "--sub", "r", "--client-id", "r",
                                                "--scope", "ssf.manage", *extra], text=True).strip()

            def verify(tok):
                h = jwt.get_unverified_header(tok)
                if h.get("typ") != "at+jwt":
                    raise ValueError("typ")
                return jwt.decode(tok, jwt.PyJWK(keys[h["kid"]]).key, algorithms=["RS256"],
                                  audience="https://tx", issuer=iss,
                                  options={"require": ["exp", "iat", "iss", "aud", "sub", "client_id", "jti"]})
            c = verify(mint_())
            self.assertEqual((c["client_id"], c["scope"]), ("r", "ssf.manage"))
            for bad in (("--expires-in", "-60"), ("--typ", "JWT"), ("--kid", "unknown"), ("--wrong-key",),
                        ("--alg", "none")):
                with self.assertRaises(Exception, msg=bad):
                    verify(mint_(*bad))
            tok = subprocess.check_output([sys.executable, script, "mint", "--dir", d, "--iss", iss, "--aud",
                                           "https://other", "--sub", "r", "--client-id", "r"], text=True).strip()
            with self.assertRaises(jwt.InvalidAudienceError):
                verify(tok)
        finally:
            p.terminate()
            p.wait(5)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", default=None, help="'unit' for unit tests only")
    a, rest = ap.parse_known_args()
    if a.k == "unit":
        suite = unittest.TestSuite()
        for c in (SetValidation, SubjectIds, Metadata, StreamConfig):
            suite.addTests(unittest.defaultTestLoader.loadTestsFromTestCase(c))
        sys.exit(0 if unittest.TextTestRunner(verbosity=2).run(suite).wasSuccessful() else 1)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
