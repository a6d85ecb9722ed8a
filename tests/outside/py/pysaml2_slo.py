"""A pysaml2 service provider in its defaults, one step per run (tests/it/saml.rs drives it).

pysaml2 signs HTTP-Redirect messages with RSA-SHA1 unless told otherwise; this SP is told
only to sign its logout requests (`logout_requests_signed`), not how.

Environment: PHASE (metadata | authn | acs | logout), WORKDIR (key, certificate and the
SP's identity cache live here between runs), SP_ENTITY_ID, SP_BASE (ACS = SP_BASE/acs,
SLO = SP_BASE/slo), IDP_METADATA (a file; not needed for `metadata`), IDP_ENTITY_ID,
SAML_RESPONSE (base64, for `acs`). Prints one JSON object on its last line.
"""

import datetime
import json
import os
import shutil
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.ident import code, decode
from saml2.metadata import entity_descriptor

env = os.environ
workdir = env["WORKDIR"]
key_file = os.path.join(workdir, "sp.key")
cert_file = os.path.join(workdir, "sp.crt")
name_id_file = os.path.join(workdir, "name_id")


def ensure_key():
    if os.path.exists(key_file):
        return
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pysaml2 sp")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    with open(key_file, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
    with open(cert_file, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def config(with_idp):
    base = env["SP_BASE"]
    conf = {
        "entityid": env["SP_ENTITY_ID"],
        "key_file": key_file,
        "cert_file": cert_file,
        "xmlsec_binary": shutil.which("xmlsec1"),
        "service": {
            "sp": {
                "endpoints": {
                    "assertion_consumer_service": [(base + "/acs", BINDING_HTTP_POST)],
                    "single_logout_service": [(base + "/slo", BINDING_HTTP_REDIRECT)],
                },
                "logout_requests_signed": True,
                # The test does not keep pysaml2's outstanding-request state between runs.
                "allow_unsolicited": True,
            }
        },
    }
    if with_idp:
        conf["metadata"] = {"local": [env["IDP_METADATA"]]}
    c = SPConfig()
    c.load(conf)
    return c


def client():
    return Saml2Client(config(True), identity_cache=os.path.join(workdir, "identities"))


def main():
    ensure_key()
    phase = env["PHASE"]
    if phase == "metadata":
        return {"metadata": str(entity_descriptor(config(False)))}
    if phase == "authn":
        _, info = client().prepare_for_authenticate(
            entityid=env["IDP_ENTITY_ID"], binding=BINDING_HTTP_REDIRECT
        )
        return {"url": dict(info["headers"])["Location"]}
    if phase == "acs":
        res = client().parse_authn_request_response(env["SAML_RESPONSE"], BINDING_HTTP_POST)
        with open(name_id_file, "w") as f:
            f.write(code(res.name_id))
        return {"name_id": res.name_id.text}
    if phase == "logout":
        with open(name_id_file) as f:
            name_id = decode(f.read())
        out = client().global_logout(name_id)
        binding, http_args = out[env["IDP_ENTITY_ID"]]
        assert binding == BINDING_HTTP_REDIRECT, binding
        return {"url": dict(http_args["headers"])["Location"]}
    raise SystemExit(f"unknown PHASE {phase}")


if __name__ == "__main__":
    result = main()
    sys.stdout.write(json.dumps(result) + "\n")
