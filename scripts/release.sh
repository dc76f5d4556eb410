#!/usr/bin/env bash
# make release: what a deployment needs, built from a tag into
# dist/<version>/ — each function's linux/arm64 bootstrap zipped (as
# `make build-<Function>` builds it), the SAM template and the examples'
# templates with each function's code pointing at its zip, samconfig.toml,
# the licence and changelog, and SHA256SUMS over all of it.
#
# VERSION (default: git describe --tags) names the release; ALLOW_DIRTY=1
# releases a tree with uncommitted or untracked files (the version then ends
# in -dirty). The output depends only on the commit and VERSION: binaries
# are built with -trimpath and no build id, zip entries carry the commit's
# time and fixed permissions.
set -euo pipefail
cd "$(dirname "$0")/.."

MAKE=${MAKE:-make}
FUNCTIONS=${FUNCTIONS:-TokenFunction ClientsFunction SecretsFunction PoliciesFunction ProvisioningFunction}

fail() {
  echo "release: $*" >&2
  exit 1
}

dirty=$(git status --porcelain)
if [[ -n $dirty && ${ALLOW_DIRTY:-} != 1 ]]; then
  git status --short >&2
  fail "the tree has uncommitted or untracked files; commit them, or set ALLOW_DIRTY=1"
fi
version=${VERSION:-}
if [[ -z $version ]]; then
  version=$(git describe --tags 2>/dev/null) || fail "no tag to release from: tag the commit (git tag -a v0.9.0), or set VERSION"
  # git describe --dirty ignores untracked files, which a build does not.
  [[ -z $dirty ]] || version+=-dirty
fi
[[ $version =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]] || fail "VERSION $version is not a release name (letters, digits, . _ + -)"

root=$PWD
out=dist/$version
epoch=$(git log -1 --format=%ct)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$out"
mkdir -p "$out/examples/protected-api" "$out/examples/provisioning" "$out/authorizer"

# zip_function builds function $1 as `sam build` would and zips its
# bootstrap into $2.
zip_function() {
  local fn=$1 zip=$2
  "$MAKE" --no-print-directory -s "build-$fn" ARTIFACTS_DIR="$work/$fn" VERSION="$version"
  chmod 0755 "$work/$fn/bootstrap"
  TZ=UTC touch -d "@$epoch" "$work/$fn/bootstrap"
  rm -f "$zip"
  (cd "$work/$fn" && TZ=UTC zip -q -X "$root/$zip" bootstrap)
}

# for_release rewrites a SAM template so each function's code is its zip
# (what sam build does), and checks that every function was rewritten.
for_release() {
  local src=$1 dst=$2 want=$3
  awk '
    /^  [A-Za-z0-9]+:$/ { name = substr($1, 1, length($1) - 1) }
    /^    Metadata:$/ { held = $0; next }
    held != "" {
      h = held; held = ""
      if ($0 == "      BuildMethod: makefile") next
      print h
    }
    /^      CodeUri: / { print "      CodeUri: " name ".zip"; next }
    { print }
  ' "$src" >"$dst"
  local got
  got=$(grep -c '^      CodeUri: [A-Za-z0-9]*\.zip$' "$dst" || true)
  [[ $got == "$want" ]] || fail "$src: $got functions point at a zip, want $want"
  ! grep -q 'BuildMethod' "$dst" || fail "$src: a function is still built from source"
}

read -ra fns <<<"$FUNCTIONS"
for fn in "${fns[@]}"; do
  echo "release $version: $fn"
  zip_function "$fn" "$out/$fn.zip"
done
zip_function HelloFunction "$out/examples/protected-api/HelloFunction.zip"
zip_function AuthorizerFunction "$out/examples/protected-api/AuthorizerFunction.zip"
cp "$out/examples/protected-api/AuthorizerFunction.zip" "$out/authorizer/AuthorizerFunction.zip"

for_release template.yaml "$out/template.yaml" "${#fns[@]}"
for_release examples/protected-api/template.yaml "$out/examples/protected-api/template.yaml" 2
for_release authorizer/template.yaml "$out/authorizer/template.yaml" 1
cp examples/provisioning/stack.yaml "$out/examples/provisioning/stack.yaml"
cp samconfig.toml LICENSE NOTICE CHANGELOG.md "$out/"

(cd "$out" && find . -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort | xargs sha256sum >SHA256SUMS)
echo "release $version: $out"
