#!/usr/bin/python3
"""Tiny OAuth 2.0 authorization server for SSF tests (independent of the transmitter).

  oauth_issuer.py serve --dir DIR --cert PEM --key PEM [--host 127.0.0.1] [--port 0]
                        [--port-file PATH] [--issuer URL]
      Creates (once) an RSA-2048 signing key in DIR and serves, over HTTPS:
        /jwks.json                                 the public JWKS
        /.well-known/oauth-authorization-server    RFC 8414 metadata (issuer, jwks_uri)
      The chosen port is written atomically to --port-file.

  oauth_issuer.py mint --dir DIR --iss ISSUER --aud AUDIENCE --sub SUB --client-id ID
                       [--scope "ssf.manage ssf.read"] [--expires-in 300] [--typ at+jwt]
                       [--kid KID] [--alg RS256|RS384|RS512|PS256|none] [--wrong-key]
                       [--omit CLAIM ...] [--claim NAME=JSON ...]
      Prints an RFC 9068 JWT access token signed with the key in DIR.
      Negative-test knobs: --expires-in -60 (expired), --typ JWT (wrong type),
      a wrong --aud/--iss, --kid unknown (unknown key id), --wrong-key (valid kid,
      signature from a different key), --alg none (unsigned), --omit exp, ...

  oauth_issuer.py jwks --dir DIR     prints the public JWKS (creating the key if needed)

Standard library + python3-cryptography + python3-jwt only.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.server
import json
import os
import secrets
import socket
import ssl
import sys
import tempfile
import time

try:
    import jwt  # type: ignore
except ImportError:  # pragma: no cover
    sys.path.append("/usr/lib/python3/dist-packages")
    import jwt  # type: ignore

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_FILE = "signing-key.pem"


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64u(n: int) -> str:
    return b64u(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def _atomic_write(path: str, data: bytes, mode: int = 0o644) -> None:
    directory = os.path.dirname(os.path.abspath(path)) or "."
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def load_or_create_key(directory: str):
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, KEY_FILE)
    if not os.path.exists(path):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:   # O_EXCL: two concurrent first runs must not create two keys
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
        except FileExistsError:
            pass
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def public_jwk(key) -> dict:
    nums = key.public_key().public_numbers()
    jwk = {"kty": "RSA", "e": _int_b64u(nums.e), "n": _int_b64u(nums.n)}
    # RFC 7638 thumbprint as the kid
    canon = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"),
                       sort_keys=True).encode()
    jwk["kid"] = b64u(hashlib.sha256(canon).digest())
    jwk["use"] = "sig"
    jwk["alg"] = "RS256"
    return jwk


def jwks_doc(key) -> dict:
    return {"keys": [public_jwk(key)]}


# ---------------------------------------------------------------------------
# serve
# ---------------------------------------------------------------------------

def cmd_serve(a) -> int:
    key = load_or_create_key(a.dir)
    jwks = json.dumps(jwks_doc(key)).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            if a.verbose:
                sys.stderr.write("oauth_issuer: " + fmt % args + "\n")

        def _send(self, code: int, body: bytes, ctype: str = "application/json"):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store" if code != 200 else "max-age=60")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self):  # noqa: N802
            path = self.path.split("?", 1)[0]
            if path == "/jwks.json":
                return self._send(200, jwks)
            if path == "/.well-known/oauth-authorization-server":
                meta = {"issuer": self.server.issuer, "jwks_uri": self.server.issuer + "/jwks.json",
                        "scopes_supported": ["ssf.manage", "ssf.read"],
                        "token_endpoint_auth_methods_supported": ["none"],
                        "grant_types_supported": ["client_credentials"]}
                return self._send(200, json.dumps(meta).encode())
            return self._send(404, b'{"error":"not_found"}')

        do_HEAD = do_GET

    class Server(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in a.host else socket.AF_INET
        daemon_threads = True

    srv = Server((a.host, a.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(a.cert, a.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    port = srv.server_address[1]
    host = f"[{a.host}]" if ":" in a.host else a.host
    srv.issuer = (a.issuer or f"https://{host}:{port}").rstrip("/")
    if a.port_file:
        _atomic_write(a.port_file, f"{port}\n".encode())
    print(f"oauth_issuer serving {srv.issuer}/jwks.json (kid {public_jwk(key)['kid']})", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0


# ---------------------------------------------------------------------------
# mint
# ---------------------------------------------------------------------------

def cmd_mint(a) -> int:
    key = load_or_create_key(a.dir)
    jwk = public_jwk(key)
    now = int(time.time())
    claims = {
        "iss": a.iss,
        "exp": now + a.expires_in,
        "aud": a.aud if len(a.aud) > 1 else a.aud[0],
        "sub": a.sub,
        "client_id": a.client_id,
        "iat": now,
        "jti": secrets.token_urlsafe(16),
    }
    if a.scope:
        claims["scope"] = a.scope
    if a.expires_in < 0:                 # make an expired token look issued in the past
        claims["iat"] = now + a.expires_in - 300
    for c in a.claim:
        name, _, val = c.partition("=")
        try:
            claims[name] = json.loads(val)
        except json.JSONDecodeError:
            claims[name] = val
    for c in a.omit:
        claims.pop(c, None)
    headers = {"typ": a.typ, "kid": a.kid if a.kid is not None else jwk["kid"]}
    if a.typ == "":
        headers.pop("typ")
    if a.alg == "none":
        hdr = {"alg": "none", **headers}
        token = (b64u(json.dumps(hdr, separators=(",", ":")).encode()) + "." +
                 b64u(json.dumps(claims, separators=(",", ":")).encode()) + ".")
    else:
        signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048) \
            if a.wrong_key else key
        token = jwt.encode(claims, signing_key, algorithm=a.alg, headers=headers)
        if isinstance(token, bytes):
            token = token.decode()
    print(token)
    return 0


def cmd_jwks(a) -> int:
    print(json.dumps(jwks_doc(load_or_create_key(a.dir)), indent=2))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="tiny OAuth issuer for SSF tests")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--dir", required=True)
    s.add_argument("--cert", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--port-file")
    s.add_argument("--issuer", help="issuer URL in the metadata (default https://HOST:PORT)")
    s.add_argument("-v", "--verbose", action="store_true")
    m = sub.add_parser("mint")
    m.add_argument("--dir", required=True)
    m.add_argument("--iss", required=True)
    m.add_argument("--aud", required=True, action="append", help="repeat for an array aud")
    m.add_argument("--sub", required=True)
    m.add_argument("--client-id", required=True)
    m.add_argument("--scope", default="ssf.manage ssf.read")
    m.add_argument("--expires-in", type=int, default=300)
    m.add_argument("--typ", default="at+jwt", help="JOSE typ ('' to omit)")
    m.add_argument("--kid", help="override the kid header")
    m.add_argument("--alg", default="RS256", choices=("RS256", "RS384", "RS512", "PS256", "none"))
    m.add_argument("--wrong-key", action="store_true", help="sign with a throw-away key")
    m.add_argument("--omit", action="append", default=[], help="drop a claim (repeatable)")
    m.add_argument("--claim", action="append", default=[], help="NAME=JSON extra/override claim")
    j = sub.add_parser("jwks")
    j.add_argument("--dir", required=True)
    a = ap.parse_args(argv)
    return {"serve": cmd_serve, "mint": cmd_mint, "jwks": cmd_jwks}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
