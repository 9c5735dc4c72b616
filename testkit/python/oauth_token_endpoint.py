"""An OAuth 2.0 token endpoint for tests: grants a token for a service-account JWT (RFC 7523)
only if its RS256 signature verifies with the test's public key and its claims are right.

    python oauth_token_endpoint.py keygen DIR      # writes DIR/private.pem (PKCS#8), DIR/public.pem
    python oauth_token_endpoint.py serve PORT PUBLIC_PEM TOKEN LOG [SCOPE]

SCOPE is the one scope a grant may ask for (default: GCS read-write, the gcs sink's).

Every decision is one line in LOG: "GRANTED iss=... scope=..." or "REJECTED <why>". The GCS
emulator checks no credentials, so this log is the evidence that the sink's grant was valid.
"""

import base64
import json
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE = "https://www.googleapis.com/auth/devstorage.read_write"


def keygen(folder):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with open(f"{folder}/private.pem", "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(f"{folder}/public.pem", "wb") as f:
        f.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo))


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_grant(form, public_key, audience, scope):
    """The claims of a valid grant, or ValueError saying what is wrong."""
    if form.get("grant_type") != [GRANT_TYPE]:
        raise ValueError(f"grant_type is {form.get('grant_type')}")
    parts = form.get("assertion", [""])[0].split(".")
    if len(parts) != 3:
        raise ValueError("the assertion is not a JWT")
    header, claims = json.loads(unb64(parts[0])), json.loads(unb64(parts[1]))
    if header.get("alg") != "RS256":
        raise ValueError(f"alg is {header.get('alg')}")
    try:
        public_key.verify(unb64(parts[2]), f"{parts[0]}.{parts[1]}".encode(),
                          padding.PKCS1v15(), hashes.SHA256())
    except Exception:
        raise ValueError("the RS256 signature does not verify with the service account's key")
    now = time.time()
    if claims.get("aud") != audience:
        raise ValueError(f"aud is {claims.get('aud')}, not {audience}")
    if claims.get("scope") != scope:
        raise ValueError(f"scope is {claims.get('scope')}")
    if not (claims.get("iat", 0) - 60 <= now < claims.get("exp", 0) <= claims["iat"] + 3600):
        raise ValueError(f"iat/exp {claims.get('iat')}/{claims.get('exp')} do not cover now")
    return claims


def serve(port, public_pem, token, log_path, scope):
    with open(public_pem, "rb") as f:
        public_key = serialization.load_pem_public_key(f.read())
    audience = f"http://127.0.0.1:{port}/token"
    log = open(log_path, "a", buffering=1)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            try:
                if self.path != "/token":
                    raise ValueError(f"no such path {self.path}")
                claims = check_grant(urllib.parse.parse_qs(body.decode()), public_key, audience,
                                     scope)
            except Exception as e:
                log.write(f"REJECTED {e}\n")
                self.answer(400, {"error": "invalid_grant", "error_description": str(e)})
                return
            log.write(f"GRANTED iss={claims.get('iss')} scope={claims['scope']} aud={claims['aud']}\n")
            self.answer(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})

        def answer(self, status, payload):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    if sys.argv[1] == "keygen":
        keygen(sys.argv[2])
    else:
        serve(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5],
              sys.argv[6] if len(sys.argv) > 6 else SCOPE)
