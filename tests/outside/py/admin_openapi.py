"""The admin API's OpenAPI document, checked by tools nobody at Plinto wrote.

1. openapi-spec-validator validates the served document (OpenAPI 3.1).
2. schemathesis runs against the live server from that document, bounded (a fixed number of
   examples per operation, a fixed seed), with its checks for 5xx answers, response-schema
   conformance and documented status codes.

Env: PLINTO_API (base URL of /api/v1), PLINTO_TOKEN (an admin bearer token), MAX_EXAMPLES,
TENANT, USER_ID, CLIENT_ID (existing resources for the path parameters), WORK_DIR.
Prints one JSON line: {"spec_valid", "schemathesis_exit", "failures"}.
"""

import json
import os
import subprocess
import sys

import requests
from openapi_spec_validator import validate

api = os.environ["PLINTO_API"]
token = os.environ["PLINTO_TOKEN"]
max_examples = os.environ.get("MAX_EXAMPLES", "20")
schema_url = api + "/openapi.json"

doc = requests.get(schema_url, timeout=10).json()
spec_error = None
try:
    validate(doc)
    spec_valid = True
except Exception as e:  # the validator's own error, reported as text
    spec_valid = False
    spec_error = str(e)[:2000]

# Known resources for the path parameters, so that calls get past "not found".
config = os.path.join(os.environ.get("WORK_DIR", "."), "schemathesis.toml")
with open(config, "w") as f:
    f.write("[parameters]\n")
    for name, var in [("tenant", "TENANT"), ("user", "USER_ID"), ("client", "CLIENT_ID")]:
        if os.environ.get(var):
            f.write(f'"path.{name}" = {json.dumps(os.environ[var])}\n')

st = os.path.join(os.path.dirname(sys.executable), "schemathesis")
run = subprocess.run(
    [
        st,
        "--config-file",
        config,
        "--no-color",
        "run",
        schema_url,
        "--checks",
        "not_a_server_error,response_schema_conformance,status_code_conformance",
        "--max-examples",
        max_examples,
        "--seed",
        "1",
        "--workers",
        "1",
        "--header",
        "Authorization: Bearer " + token,
    ],
    capture_output=True,
    text=True,
    timeout=900,
    # Its caches (.schemathesis, .hypothesis) go to the test's directory, not the repository.
    cwd=os.environ.get("WORK_DIR") or None,
)
out = run.stdout + run.stderr
sys.stderr.write(out)
# The failures section, for the Rust test's message.
failures = out[out.find("FAILURES"):][:6000] if "FAILURES" in out else out[-3000:]
print(
    json.dumps(
        {
            "spec_valid": spec_valid,
            "spec_error": spec_error,
            "schemathesis_exit": run.returncode,
            "failures": failures if run.returncode else "",
            "summary": out[-2500:],
        }
    )
)
