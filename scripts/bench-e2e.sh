#!/usr/bin/env bash
# End-to-end load against the local stack (what `make run` serves), with wrk:
# requests/s, p50/p99 latency and CPU milliseconds per request of the
# gateway process alone (from /proc/<pid>/stat), at 1 and 16 connections,
# for the token endpoint, one management read and one management write.
# Bounded: DURATION per run (default 10s). Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/wrk-row.sh

DURATION=${DURATION:-10s}
PORT=${BENCH_PORT:-3100}
DYNAMODB_PORT=${BENCH_DYNAMODB_PORT:-8100}
KMS_PORT=${BENCH_KMS_PORT:-8190}
BASE=http://127.0.0.1:$PORT

if ! command -v wrk >/dev/null; then
  echo "wrk is needed: apt-get install wrk (Debian's package)" >&2
  exit 1
fi
make --no-print-directory tools >/dev/null
go build -o bin/gateway ./cmd/gateway
mkdir -p .run
PORT=$PORT DYNAMODB_PORT=$DYNAMODB_PORT KMS_PORT=$KMS_PORT TOKEN_REUSE_PERCENT=${TOKEN_REUSE_PERCENT:-0} \
  bin/gateway > .run/bench.out 2> .run/bench.err &
GW=$!
trap 'kill -INT $GW 2>/dev/null; wait $GW 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do grep -q "serving on" .run/bench.err && break; sleep 0.5; done
grep -q "serving on" .run/bench.err || { cat .run/bench.err >&2; exit 1; }

ADMIN=$(grep '^{' .run/bench.out)
ID=$(echo "$ADMIN" | jq -r .clientId)
SECRET=$(echo "$ADMIN" | jq -r .clientSecret)
TOKEN=$(curl -sf -u "$ID:$SECRET" -d grant_type=client_credentials $BASE/connect/token | jq -r .access_token)
TARGET=$(curl -sf -X POST $BASE/v1/clients -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"name":"bench","description":"bench target","allowedGrantTypes":["client_credentials"],"allowedScopes":["api"],"redirectUris":[]}' | jq -r .clientId)

SCRIPTS=$(mktemp -d)
cat > "$SCRIPTS/token.lua" <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&client_id=$ID&client_secret=$SECRET"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA
cat > "$SCRIPTS/read.lua" <<LUA
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer $TOKEN"
LUA
cat > "$SCRIPTS/write.lua" <<LUA
wrk.method = "PUT"
wrk.body = '{"name":"bench","description":"bench target","allowedGrantTypes":["client_credentials"],"allowedScopes":["api"],"redirectUris":[]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
LUA

echo "| Route | Connections | Requests/s | p50 | p99 | Gateway CPU per request |"
echo "|---|---|---|---|---|---|"
for route in token read write; do
  case $route in
    token) url=$BASE/connect/token; name="POST /connect/token" ;;
    read) url=$BASE/v1/clients/$TARGET; name="GET /v1/clients/{id}" ;;
    write) url=$BASE/v1/clients/$TARGET; name="PUT /v1/clients/{id}" ;;
  esac
  for c in 1 16; do
    wrk_row "$name" $c "$SCRIPTS/$route.lua" "$url" $GW
  done
done
rm -rf "$SCRIPTS"
