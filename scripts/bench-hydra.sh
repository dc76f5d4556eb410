#!/usr/bin/env bash
# The same token load as scripts/bench-e2e.sh, against Ory Hydra v2.3.0 with
# a SQLite store in memory, for a side-by-side run on one machine: RS256 and
# ES256 JWT access tokens, each with Hydra's default client secret hashing
# (PBKDF2, 25,000 iterations) and with that cost removed (one iteration).
# Prints a Markdown table. Hydra is built from its module source (the Go
# module proxy serves it; `go install` refuses it because its go.mod has
# replace directives): a C compiler is needed for its SQLite store.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/wrk-row.sh

HYDRA_VERSION=${HYDRA_VERSION:-v2.3.0}
DURATION=${DURATION:-10s}
PUBLIC_PORT=${HYDRA_PUBLIC_PORT:-4444}
ADMIN_PORT=${HYDRA_ADMIN_PORT:-4445}
PUBLIC=http://127.0.0.1:$PUBLIC_PORT
ADMIN=http://127.0.0.1:$ADMIN_PORT
HYDRA=bin/hydra-$HYDRA_VERSION

for tool in wrk jq cc; do
  command -v $tool >/dev/null || { echo "$tool is needed (Debian: wrk, jq, gcc)" >&2; exit 1; }
done

if [ ! -x "$HYDRA" ]; then
  src=$(go mod download -json "github.com/ory/hydra/v2@$HYDRA_VERSION" | jq -r .Dir)
  work=$(mktemp -d)
  cp -r "$src/." "$work" && chmod -R u+w "$work"
  # The client library it replaces with a directory of its own repository
  # (left out of the module) is published on its own; the server does not
  # use it.
  (cd "$work" && go mod edit -dropreplace github.com/ory/hydra-client-go/v2 &&
    go get github.com/ory/hydra-client-go/v2@v2.2.1 &&
    CGO_ENABLED=1 go build -tags sqlite,sqlite_omit_load_extension -o "$OLDPWD/$HYDRA" .)
  rm -rf "$work"
fi

mkdir -p .run
SCRIPTS=$(mktemp -d)
DB_DIR=$(mktemp -d -p "$( [ -d /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")")
export DSN="sqlite://$DB_DIR/hydra.sqlite?_fk=true&_journal_mode=WAL&_busy_timeout=10000"
HY=
stop() { [ -n "$HY" ] && kill "$HY" 2>/dev/null && wait "$HY" 2>/dev/null || true; HY=; }
trap 'stop; rm -rf "$SCRIPTS" "$DB_DIR"' EXIT

# start ALGORITHM ITERATIONS: Hydra with a fresh store. Not DSN=memory: its
# tables vanish when the connection pool opens a new connection under
# concurrent load ("Unable to locate the table"); a SQLite file on a memory
# file system keeps the store in RAM without that.
start() {
  stop
  rm -f "$DB_DIR"/hydra.sqlite*
  "$HYDRA" migrate sql up -e --yes > .run/hydra-migrate.out 2>&1
  SECRETS_SYSTEM=bench-system-secret-of-32-bytes! URLS_SELF_ISSUER=$PUBLIC \
    SERVE_PUBLIC_PORT=$PUBLIC_PORT SERVE_ADMIN_PORT=$ADMIN_PORT \
    STRATEGIES_ACCESS_TOKEN=jwt LOG_LEVEL=error \
    OAUTH2_HASHERS_ALGORITHM=$1 OAUTH2_HASHERS_PBKDF2_ITERATIONS=$2 \
    "$HYDRA" serve all --dev --sqa-opt-out > .run/hydra.out 2> .run/hydra.err &
  HY=$!
  for _ in $(seq 1 100); do curl -sf $PUBLIC/health/ready >/dev/null && return; sleep 0.2; done
  cat .run/hydra.err >&2
  exit 1
}

echo "| Hydra $HYDRA_VERSION | Connections | Requests/s | p50 | p99 | Hydra CPU per request |"
echo "|---|---|---|---|---|---|"
for alg in RS256 ES256; do
  for iterations in 25000 1; do
    start pbkdf2 $iterations
    # One signing key of the algorithm, made before the load.
    curl -sf -X DELETE $ADMIN/admin/keys/hydra.jwt.access-token >/dev/null || true
    curl -sf -X POST $ADMIN/admin/keys/hydra.jwt.access-token -H 'Content-Type: application/json' \
      -d "{\"alg\":\"$alg\",\"kid\":\"bench-$alg\",\"use\":\"sig\"}" >/dev/null
    curl -sf -X POST $ADMIN/admin/clients -H 'Content-Type: application/json' -d '{"client_id":"bench",
      "client_secret":"bench-secret-of-enough-length-0123456789","grant_types":["client_credentials"],
      "token_endpoint_auth_method":"client_secret_post","scope":"api"}' >/dev/null
    cat > "$SCRIPTS/token.lua" <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&client_id=bench&client_secret=bench-secret-of-enough-length-0123456789&scope=api"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA
    header=$(curl -sf -d 'grant_type=client_credentials&client_id=bench&client_secret=bench-secret-of-enough-length-0123456789&scope=api' \
      $PUBLIC/oauth2/token | jq -r .access_token | cut -d. -f1 | tr '_-' '/+' | base64 -d 2>/dev/null || true)
    echo "$header" | grep -q "\"$alg\"" || { echo "Hydra did not sign with $alg: $header" >&2; exit 1; }
    label="$alg, PBKDF2 $iterations"
    for c in 1 16; do
      wrk_row "POST /oauth2/token, $label" $c "$SCRIPTS/token.lua" $PUBLIC/oauth2/token $HY
    done
  done
done
