#!/usr/bin/env bash
# Run the OpenID Foundation conformance suite (https://gitlab.com/openid/conformance-suite)
# against a Plinto that is already running, for the four OP certification plans:
#
#   oidcc-basic-certification-test-plan[server_metadata=discovery][client_registration=static_client]
#   oidcc-config-certification-test-plan
#   oidcc-formpost-basic-certification-test-plan[server_metadata=discovery][client_registration=static_client]
#   oidcc-rp-initiated-logout-certification-test-plan[response_type=code][client_registration=static_client]
#
# Needs Docker (the suite runs in docker compose), python3 with the suite's script
# dependencies (requests), and the plinto binary with access to the server's database.
#
# Settings (environment):
#   OIDF_SUITE_DIR     checkout of the conformance suite, already started with
#                      `docker compose up -d` (after `mvn package` or with its prebuilt image)
#   CONFORMANCE_SERVER the suite's URL (default https://localhost.emobix.co.uk:8443/)
#   PLINTO_ISSUER      the issuer as the suite's containers reach it, https
#                      (e.g. https://host.docker.internal:9443/t/default; the suite insists on
#                      https endpoints, so put a TLS proxy in front of Plinto)
#   PLINTO_TENANT      tenant slug (default: the last path segment of PLINTO_ISSUER)
#   PLINTO_BIN         the plinto binary (default: target/debug/plinto); it must see the same
#                      database and data directory as the server (PLINTO_DATABASE_URL,
#                      PLINTO_DATA_DIR, or a plinto.toml), to register the clients
#   OIDF_USERNAME / OIDF_PASSWORD
#                      the test user; when OIDF_CREATE_USER=1 it is created first
#   OIDF_ALIAS         the suite's alias (default plinto): redirect URIs are
#                      ${CONFORMANCE_SERVER}test/a/${OIDF_ALIAS}/callback and .../post_logout_redirect
#   OIDF_PLANS         space-separated subset: basic config formpost logout (default: all)
#   OIDF_EXPORT_DIR    where run-test-plan.py exports the results (default ./oidf-results)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"

die() {
    echo "run-oidf.sh: $*" >&2
    exit 2
}

: "${OIDF_SUITE_DIR:?set OIDF_SUITE_DIR to a checkout of the conformance suite}"
: "${PLINTO_ISSUER:?set PLINTO_ISSUER to the issuer as the suite reaches it}"
: "${OIDF_USERNAME:?set OIDF_USERNAME to the test user's email address}"
: "${OIDF_PASSWORD:?set OIDF_PASSWORD to the test user's password}"
CONFORMANCE_SERVER="${CONFORMANCE_SERVER:-https://localhost.emobix.co.uk:8443/}"
case "$CONFORMANCE_SERVER" in
*/) ;;
*) CONFORMANCE_SERVER="$CONFORMANCE_SERVER/" ;;
esac
PLINTO_ISSUER="${PLINTO_ISSUER%/}"
PLINTO_TENANT="${PLINTO_TENANT:-${PLINTO_ISSUER##*/}}"
PLINTO_BIN="${PLINTO_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/plinto}"
OIDF_ALIAS="${OIDF_ALIAS:-plinto}"
OIDF_PLANS="${OIDF_PLANS:-basic config formpost logout}"
OIDF_EXPORT_DIR="${OIDF_EXPORT_DIR:-$PWD/oidf-results}"

RUN_TEST_PLAN="$OIDF_SUITE_DIR/scripts/run-test-plan.py"
[ -f "$RUN_TEST_PLAN" ] || die "no $RUN_TEST_PLAN"
[ -x "$PLINTO_BIN" ] || die "no plinto binary at $PLINTO_BIN (cargo build -p plinto)"
command -v python3 >/dev/null || die "python3 is required"
command -v docker >/dev/null || die "docker is required (the suite runs in docker compose)"

REDIRECT_URI="${CONFORMANCE_SERVER}test/a/${OIDF_ALIAS}/callback"
POST_LOGOUT_URI="${CONFORMANCE_SERVER}test/a/${OIDF_ALIAS}/post_logout_redirect"

if [ "${OIDF_CREATE_USER:-0}" = "1" ]; then
    echo "== creating user $OIDF_USERNAME in tenant $PLINTO_TENANT" >&2
    "$PLINTO_BIN" user create --tenant "$PLINTO_TENANT" --email "$OIDF_USERNAME" \
        --password "$OIDF_PASSWORD" --name "OIDF Conformance" --email-verified >/dev/null
fi

# The suite signs in many times a minute from one address: lift this tenant's sign-in limit
# (`plinto tenant update --rate-limits ""` restores the configured one afterwards).
"$PLINTO_BIN" tenant update "$PLINTO_TENANT" --rate-limits "login=10000/min" >/dev/null

# Register a client; prints {"client_id":…,"client_secret":…}.
create_client() {
    local name="$1" method="$2"
    "$PLINTO_BIN" client create --tenant "$PLINTO_TENANT" --name "$name" \
        --redirect-uri "$REDIRECT_URI" --post-logout-redirect-uri "$POST_LOGOUT_URI" \
        --auth-method "$method" \
        --grant-type authorization_code --grant-type refresh_token \
        --scope openid --scope profile --scope email --scope address --scope phone \
        --scope offline_access
}

RUN_ID="$(date +%Y%m%d%H%M%S)"
echo "== registering three clients in tenant $PLINTO_TENANT" >&2
CLIENT_JSON="$(create_client "oidf-client-$RUN_ID" client_secret_basic)"
CLIENT2_JSON="$(create_client "oidf-client2-$RUN_ID" client_secret_basic)"
POST_JSON="$(create_client "oidf-client-secret-post-$RUN_ID" client_secret_post)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/plinto-oidf.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
CONFIG="$WORK/oidf-config.json"

# Fill the placeholders of oidf-config.json (JSON-escaped by python).
CLIENT_JSON="$CLIENT_JSON" CLIENT2_JSON="$CLIENT2_JSON" POST_JSON="$POST_JSON" \
    ISSUER="$PLINTO_ISSUER" ALIAS="$OIDF_ALIAS" \
    OIDF_USERNAME="$OIDF_USERNAME" OIDF_PASSWORD="$OIDF_PASSWORD" \
    python3 - "$HERE/oidf-config.json" "$CONFIG" <<'PY'
import json, os, sys

src, dst = sys.argv[1], sys.argv[2]
c1 = json.loads(os.environ["CLIENT_JSON"])
c2 = json.loads(os.environ["CLIENT2_JSON"])
cp = json.loads(os.environ["POST_JSON"])
values = {
    "ISSUER": os.environ["ISSUER"],
    "ALIAS": os.environ["ALIAS"],
    "CLIENT_ID": c1["client_id"],
    "CLIENT_SECRET": c1["client_secret"],
    "CLIENT2_ID": c2["client_id"],
    "CLIENT2_SECRET": c2["client_secret"],
    "POST_CLIENT_ID": cp["client_id"],
    "POST_CLIENT_SECRET": cp["client_secret"],
    "USERNAME": os.environ["OIDF_USERNAME"],
    "PASSWORD": os.environ["OIDF_PASSWORD"],
}

def fill(v):
    if isinstance(v, str):
        for k, val in values.items():
            v = v.replace("${" + k + "}", val)
        if "${" in v:
            sys.exit("unfilled placeholder in " + v)
        return v
    if isinstance(v, list):
        return [fill(x) for x in v]
    if isinstance(v, dict):
        return {k: fill(x) for k, x in v.items()}
    return v

with open(src) as f:
    config = json.load(f)
with open(dst, "w") as f:
    json.dump(fill(config), f, indent=2)
PY

ARGS=()
for plan in $OIDF_PLANS; do
    case "$plan" in
    basic) ARGS+=("oidcc-basic-certification-test-plan[server_metadata=discovery][client_registration=static_client]" "$CONFIG") ;;
    config) ARGS+=("oidcc-config-certification-test-plan" "$CONFIG") ;;
    formpost) ARGS+=("oidcc-formpost-basic-certification-test-plan[server_metadata=discovery][client_registration=static_client]" "$CONFIG") ;;
    logout) ARGS+=("oidcc-rp-initiated-logout-certification-test-plan[response_type=code][client_registration=static_client]" "$CONFIG") ;;
    *) die "unknown plan $plan (basic config formpost logout)" ;;
    esac
done

mkdir -p "$OIDF_EXPORT_DIR"
echo "== running ${OIDF_PLANS} against $PLINTO_ISSUER via $CONFORMANCE_SERVER" >&2
cd "$OIDF_SUITE_DIR"
# CONFORMANCE_DEV_MODE: the local suite needs no API token (set CONFORMANCE_TOKEN otherwise).
export CONFORMANCE_SERVER
export CONFORMANCE_DEV_MODE="${CONFORMANCE_DEV_MODE-1}"
status=0
python3 "$RUN_TEST_PLAN" --export-dir "$OIDF_EXPORT_DIR" "${ARGS[@]}" || status=$?
exit "$status"
