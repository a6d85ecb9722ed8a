"""authlib's private_key_jwt client authentication in its defaults (RS256, assertions valid
for one hour, a fresh jti each), as its documentation shows it, for a client_credentials
token; tests/it/oauth.rs replays the assertion it sent.

Environment: TOKEN_URL, CLIENT_ID, KEY_FILE (the client's RSA private key, PEM), SCOPE.
Prints one JSON object on its last line: {"access_token", "assertion"} or {"error", ...}.
"""

import json
import os
import sys
from urllib.parse import parse_qs

from authlib.integrations.requests_client import OAuth2Session
from authlib.integrations.base_client import OAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT

env = os.environ
token_url = env["TOKEN_URL"]
with open(env["KEY_FILE"]) as f:
    private_key = f.read()

session = OAuth2Session(
    env["CLIENT_ID"],
    private_key,
    token_endpoint_auth_method="private_key_jwt",
    scope=env.get("SCOPE"),
)
session.register_client_auth_method(PrivateKeyJWT(token_url))
sent = []
session.hooks["response"].append(lambda r, *args, **kwargs: sent.append(r.request.body))

try:
    token = session.fetch_token(token_url, grant_type="client_credentials")
    result = {"access_token": token["access_token"]}
except OAuthError as e:
    result = {"error": e.error, "error_description": e.description}

body = sent[-1] if sent else ""
if isinstance(body, bytes):
    body = body.decode()
result["assertion"] = parse_qs(body).get("client_assertion", [None])[0]
sys.stdout.write(json.dumps(result) + "\n")
