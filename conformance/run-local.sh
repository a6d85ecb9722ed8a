#!/usr/bin/env bash
# Run plinto-conformance against a Plinto started here on a free loopback port.
#
#   conformance/run-local.sh [DATABASE_URL] [-- extra plinto-conformance flags]
#
# DATABASE_URL defaults to a SQLite file in a temporary directory; a postgres:// URL works too
# (the test user and clients get unique names, so a database can be reused). The script builds
# plinto and plinto-conformance (set PLINTO_CONFORMANCE_NO_BUILD=1 to use the binaries already
# in the target directory), starts `plinto serve`, waits for /ready, creates a test user and two
# clients with the CLI, runs the conformance binary, stops the server and exits with the
# conformance exit code (0 iff no module failed). Set KEEP_TMP=1 to keep the temporary
# directory (server log, SQLite file) for inspection.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DATABASE_URL="${1:-}"
shift || true
if [ "${1:-}" = "--" ]; then
    shift
fi
EXTRA_ARGS=("$@")

TMP="$(mktemp -d "${TMPDIR:-/tmp}/plinto-conformance.XXXXXX")"
SERVER_PID=""

cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$SERVER_PID" 2>/dev/null || true
    fi
    if [ "${KEEP_TMP:-0}" = "1" ]; then
        echo "kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT

if [ -z "$DATABASE_URL" ]; then
    DATABASE_URL="sqlite://$TMP/plinto.db?mode=rwc"
fi

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
if [ "${PLINTO_CONFORMANCE_NO_BUILD:-0}" != "1" ]; then
    echo "== building plinto and plinto-conformance" >&2
    cargo build --locked -p plinto -p conformance >&2
fi
PLINTO="$TARGET_DIR/debug/plinto"
CONFORMANCE="$TARGET_DIR/debug/plinto-conformance"
for bin in "$PLINTO" "$CONFORMANCE"; do
    [ -x "$bin" ] || {
        echo "missing $bin (build it, or unset PLINTO_CONFORMANCE_NO_BUILD)" >&2
        exit 2
    }
done

# A free port on 127.0.0.1.
free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
        return
    fi
    local port
    for _ in $(seq 100); do
        port=$((20000 + RANDOM % 20000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    echo "no free port found" >&2
    return 1
}

# GET a URL on loopback, print the status code (curl when present, bash otherwise).
http_status() {
    local url="$1"
    if command -v curl >/dev/null 2>&1; then
        curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || echo 000
        return
    fi
    local hostport="${url#http://}"
    hostport="${hostport%%/*}"
    local path="/${url#http://*/}"
    local host="${hostport%:*}" port="${hostport##*:}"
    (
        exec 3<>"/dev/tcp/$host/$port" || exit 1
        printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$hostport" >&3
        head -n1 <&3 | awk '{print $2}'
    ) 2>/dev/null || echo 000
}

PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
TENANT=default
ISSUER="$BASE/t/$TENANT"

export PLINTO_DATABASE_URL="$DATABASE_URL"
export PLINTO_DATA_DIR="$TMP/data"
export PLINTO_LISTEN="127.0.0.1:$PORT"
export PLINTO_PUBLIC_URL="$BASE"
export PLINTO_BOOTSTRAP_ADMIN_PASSWORD="conformance-admin-$RANDOM$RANDOM"
export PLINTO_LOG="${PLINTO_LOG:-warn}"
# The suite signs in dozens of times a second from one address: more than the per-IP sign-in
# limit lets through.
export PLINTO_RATE_LIMITS="${PLINTO_RATE_LIMITS:-login=10000/min}"

echo "== starting plinto on $BASE (database: ${DATABASE_URL%%\?*})" >&2
"$PLINTO" serve >"$TMP/server.log" 2>&1 &
SERVER_PID=$!

ready=0
for _ in $(seq 120); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "plinto exited during start-up:" >&2
        cat "$TMP/server.log" >&2
        exit 2
    fi
    if [ "$(http_status "$BASE/ready")" = "200" ]; then
        ready=1
        break
    fi
    sleep 0.5
done
if [ "$ready" != "1" ]; then
    echo "plinto is not ready after 60 s:" >&2
    tail -n 50 "$TMP/server.log" >&2
    exit 2
fi

RUN_ID="$(date +%s)-$RANDOM"
USER_EMAIL="conformance-$RUN_ID@example.com"
USER_PASSWORD="Conformance-pw-$RANDOM-$RANDOM-$RANDOM"
REDIRECT_URI="https://rp.conformance.invalid/callback"
POST_LOGOUT_URI="https://rp.conformance.invalid/logged-out"

echo "== creating the test user and clients" >&2
"$PLINTO" user create --tenant "$TENANT" --email "$USER_EMAIL" --password "$USER_PASSWORD" \
    --name "Conformance Tester" --email-verified >"$TMP/user.json"

create_client() {
    local name="$1" method="$2"
    "$PLINTO" client create --tenant "$TENANT" --name "$name" \
        --redirect-uri "$REDIRECT_URI" --post-logout-redirect-uri "$POST_LOGOUT_URI" \
        --auth-method "$method" \
        --grant-type authorization_code --grant-type refresh_token \
        --scope openid --scope profile --scope email --scope address --scope phone \
        --scope offline_access
}

# The CLI prints {"client_id":"…","client_secret":"…"}.
json_field() {
    sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p" | head -n1
}

BASIC_JSON="$(create_client "conformance-basic-$RUN_ID" client_secret_basic)"
POST_JSON="$(create_client "conformance-post-$RUN_ID" client_secret_post)"
BASIC_ID="$(printf '%s' "$BASIC_JSON" | json_field client_id)"
BASIC_SECRET="$(printf '%s' "$BASIC_JSON" | json_field client_secret)"
POST_ID="$(printf '%s' "$POST_JSON" | json_field client_id)"
POST_SECRET="$(printf '%s' "$POST_JSON" | json_field client_secret)"
for v in BASIC_ID BASIC_SECRET POST_ID POST_SECRET; do
    [ -n "${!v}" ] || {
        echo "could not read $v from: $BASIC_JSON $POST_JSON" >&2
        exit 2
    }
done

echo "== running plinto-conformance against $ISSUER" >&2
set +e
# `--name=value`: a generated secret may begin with '-' (base64url), which would read as a flag.
"$CONFORMANCE" \
    --issuer="$ISSUER" \
    --client-id="$BASIC_ID" --client-secret="$BASIC_SECRET" \
    --post-client-id="$POST_ID" --post-client-secret="$POST_SECRET" \
    --redirect-uri="$REDIRECT_URI" --post-logout-redirect-uri="$POST_LOGOUT_URI" \
    --username="$USER_EMAIL" --password="$USER_PASSWORD" \
    ${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}
status=$?
set -e

if [ "$status" -ne 0 ]; then
    echo "== last lines of the server log" >&2
    tail -n 40 "$TMP/server.log" >&2 || true
fi
exit "$status"
