"""A small, real OpenID Connect provider for the integration tests (authorization code + PKCE).

    python3 oidc_provider.py PORT CLIENT_ID CLIENT_SECRET [AUTH_METHOD]

Issuer http://127.0.0.1:PORT. It serves discovery (/.well-known/openid-configuration), its
signing keys (/jwks, an RSA key made at start), /authorize and /token, and checks what a real
provider checks: the client, the redirect URI, the code (single use, one minute) and the PKCE
verifier against the S256 challenge. ID tokens are RS256 JWTs with iss, aud, sub, email,
email_verified, name, nonce, iat and exp. AUTH_METHOD is how the client authenticates at /token:
`client_secret_basic` (default) or `client_secret_post`, as discovery says.

/authorize signs in, without asking, whoever the query names: `login_as` (the subject),
`login_email`, `login_email_verified` (`true` unless `false`) and `login_name` - a test choosing
its account as a person would on the provider's page. `mode` shapes the ID token of that code
for negative tests: `wrong_key` (signed by a key the provider does not publish, under the
published key's id), `wrong_aud`, `wrong_iss`, `expired`, `bad_nonce`, `rotated` (signed by a
new key that /jwks publishes from then on, as after a key rotation). GET /log lists the /token
requests it answered (client auth method and outcome) for tests to read.

Exits with the test process that started it.
"""

import base64
import hashlib
import json
import os
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def int_b64(n: int) -> str:
    return b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))


class Key:
    def __init__(self, kid):
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self):
        numbers = self.private.public_key().public_numbers()
        return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                "n": int_b64(numbers.n), "e": int_b64(numbers.e)}

    def sign(self, claims, kid=None):
        header = {"alg": "RS256", "typ": "JWT", "kid": kid or self.kid}
        signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
        signature = self.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64(signature)


class Provider:
    def __init__(self, port, client_id, client_secret, auth_method):
        self.issuer = f"http://127.0.0.1:{port}"
        self.client_id = client_id
        self.client_secret = client_secret
        self.auth_method = auth_method
        # Key ids unique to this process, as a real provider's are: a port used again by the
        # next test's provider must not look like the same keys.
        self.key = Key(secrets.token_hex(8))
        self.stranger = Key(self.key.kid)  # same key id, another key: what a forger signs with
        self.published = [self.key]
        self.codes = {}
        self.log = []
        self.lock = threading.Lock()

    def discovery(self):
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "jwks_uri": self.issuer + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": [self.auth_method],
            "code_challenge_methods_supported": ["S256"],
        }

    def authorize(self, q):
        """The redirect for an authorization request: (status, location or error)."""
        if q.get("client_id") != self.client_id:
            return 400, "unknown client_id"
        redirect_uri = q.get("redirect_uri")
        if not redirect_uri:
            return 400, "missing redirect_uri"
        if q.get("response_type") != "code" or "openid" not in q.get("scope", "").split():
            return 302, redirect_uri + "?" + urlencode({"error": "invalid_request", "state": q.get("state", "")})
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return 302, redirect_uri + "?" + urlencode({"error": "invalid_request", "state": q.get("state", "")})
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = {
                "redirect_uri": redirect_uri, "challenge": q["code_challenge"], "nonce": q.get("nonce"),
                "sub": q.get("login_as", "subject-1"), "email": q.get("login_email"),
                "email_verified": q.get("login_email_verified", "true") != "false",
                "name": q.get("login_name"), "mode": q.get("mode", "ok"), "expires": time.time() + 60,
            }
        return 302, redirect_uri + "?" + urlencode({"code": code, "state": q.get("state", "")})

    def token(self, form, authorization):
        """The token endpoint's answer: (status, JSON body)."""
        method, client_id, secret = None, form.get("client_id"), None
        if authorization and authorization.startswith("Basic "):
            method = "client_secret_basic"
            raw = base64.b64decode(authorization[6:]).decode()
            client_id, _, secret = raw.partition(":")
        elif "client_secret" in form:
            method, secret = "client_secret_post", form["client_secret"]
        with self.lock:
            self.log.append({"method": method})
            if method != self.auth_method or client_id != self.client_id or secret != self.client_secret:
                return 401, {"error": "invalid_client", "error_description": "client authentication failed"}
            if form.get("grant_type") != "authorization_code":
                return 400, {"error": "unsupported_grant_type"}
            grant = self.codes.pop(form.get("code", ""), None)
            if grant is None or grant["expires"] < time.time():
                return 400, {"error": "invalid_grant", "error_description": "unknown, used or expired code"}
            if form.get("redirect_uri") != grant["redirect_uri"]:
                return 400, {"error": "invalid_grant", "error_description": "redirect_uri does not match"}
            verifier = form.get("code_verifier", "")
            if b64(hashlib.sha256(verifier.encode()).digest()) != grant["challenge"]:
                return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
            return 200, self.tokens(grant)

    def tokens(self, grant):
        now, mode = int(time.time()), grant["mode"]
        claims = {
            "iss": self.issuer + ("/other" if mode == "wrong_iss" else ""),
            "aud": "another-client" if mode == "wrong_aud" else self.client_id,
            "sub": grant["sub"], "iat": now - (7200 if mode == "expired" else 0),
            "exp": now + (-3600 if mode == "expired" else 300),
            "nonce": "not-the-nonce" if mode == "bad_nonce" else grant["nonce"],
            "email_verified": grant["email_verified"],
        }
        if grant["email"]:
            claims["email"] = grant["email"]
        if grant["name"]:
            claims["name"] = grant["name"]
        if mode == "wrong_key":
            id_token = self.stranger.sign(claims)
        elif mode == "rotated":
            new = Key(secrets.token_hex(8))
            self.published.append(new)
            id_token = new.sign(claims)
        else:
            id_token = self.key.sign(claims)
        return {"access_token": secrets.token_urlsafe(24), "token_type": "Bearer", "expires_in": 300,
                "id_token": id_token}


def handler_for(provider):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def send_json(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urlparse(self.path)
            if url.path == "/.well-known/openid-configuration":
                return self.send_json(200, provider.discovery())
            if url.path == "/jwks":
                with provider.lock:
                    return self.send_json(200, {"keys": [k.jwk() for k in provider.published]})
            if url.path == "/log":
                with provider.lock:
                    return self.send_json(200, provider.log)
            if url.path == "/authorize":
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                status, where = provider.authorize(q)
                if status != 302:
                    return self.send_json(status, {"error": where})
                self.send_response(302)
                self.send_header("location", where)
                self.send_header("content-length", "0")
                self.end_headers()
                return
            self.send_json(404, {"error": "not found"})

        def do_POST(self):
            url = urlparse(self.path)
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length).decode()
            if url.path != "/token":
                return self.send_json(404, {"error": "not found"})
            form = {k: v[0] for k, v in parse_qs(body).items()}
            status, answer = provider.token(form, self.headers.get("authorization"))
            self.send_json(status, answer)

    return Handler


def main():
    port, client_id, client_secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    auth_method = sys.argv[4] if len(sys.argv) > 4 else "client_secret_basic"
    provider = Provider(port, client_id, client_secret, auth_method)
    server = ThreadingHTTPServer(("127.0.0.1", port), handler_for(provider))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"oidc provider on {provider.issuer}", flush=True)
    # Exit with the test process that started us (it cannot clean up after itself).
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.5)
    server.shutdown()


if __name__ == "__main__":
    main()
