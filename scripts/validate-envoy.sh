#!/usr/bin/env bash
# Validates every Envoy config in the repo with the pinned Envoy
# (`envoy --mode validate` also loads the edge filter -- the native module
# target/native/libdatagate_edge.so, or the .wasm -- and runs its config
# validation), the proxy-wasm variant of the gateway too, and checks that the
# committed renders (envoy/*.yaml, envoy/fragments/) are current
# `datagate envoy-config` output.
set -euo pipefail
cd "$(dirname "$0")/.."
envoy=.venv/bin/envoy
fail=0
# Where Envoy finds libdatagate_edge.so (scripts/setup.sh builds it).
export ENVOY_DYNAMIC_MODULES_SEARCH_PATH=${ENVOY_DYNAMIC_MODULES_SEARCH_PATH:-$PWD/target/native}

check_render() {  # committed file, then render settings
  local file=$1; shift
  if ! diff -u "$file" <(env "$@" envoy/render.sh) >/dev/null; then
    echo "FAIL $file is out of date: re-render it with envoy/render.sh ($*)"; fail=1
  fi
}
check_render envoy/gateway.yaml DATAGATE_PROFILE=edge
check_render envoy/mesh-sidecar.yaml DATAGATE_PROFILE=mesh
# The include fragments are `datagate envoy-config --profile include` output too.
frags=$(mktemp -d)
"${DATAGATE_BIN:-${CARGO_TARGET_DIR:-target}/debug/datagate}" envoy-config --profile include --out-dir "$frags"
if ! diff -ru envoy/fragments "$frags" >/dev/null; then
  echo "FAIL envoy/fragments is out of date: re-render it with datagate envoy-config --profile include --out-dir envoy/fragments"; fail=1
fi
rm -rf "$frags"

validate() {  # config file, label
  if out=$("$envoy" --mode validate -c "$1" --log-level error --disable-hot-restart 2>&1); then
    echo "ok   $2"
  else
    echo "FAIL $2"; echo "$out" | tail -n 20; fail=1
  fi
}
while IFS= read -r cfg; do
  validate "$cfg" "$cfg"
done < <(grep -rlE '^static_resources:' envoy examples --include='*.yaml' | sort)

# The committed renders use the native module; the wasm variant is rendered here.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The committed renders route data requests to the sidecars (the upstream data
# path); the ext_proc data path's variant is rendered here too.
for profile in edge mesh; do
  DATAGATE_FILTER=wasm DATAGATE_PROFILE=$profile envoy/render.sh > "$tmp/$profile-wasm.yaml"
  validate "$tmp/$profile-wasm.yaml" "envoy/render.sh (profile $profile, DATAGATE_FILTER=wasm)"
  DATAGATE_DATA_PATH=extProc DATAGATE_PROFILE=$profile envoy/render.sh > "$tmp/$profile-ext-proc.yaml"
  validate "$tmp/$profile-ext-proc.yaml" "envoy/render.sh (profile $profile, DATAGATE_DATA_PATH=extProc)"
done
# A Datagate config with plans and a global limit: the filter's globalLimit validation runs in Envoy.
cat > "$tmp/datagate.json" <<'JSON'
{"sidecars": ["unix:/tmp/datagate.sock", "127.0.0.1:50052"],
 "rateLimit": {"plans": {"free": {"requestsPerSecond": 10, "burst": 20}}, "defaultPlan": "free"},
 "globalLimit": {"leaseSize": 10, "failureMode": "closed"}}
JSON
for filter in native wasm; do
  sed "s/^{/{\"filter\": \"$filter\", /" "$tmp/datagate.json" > "$tmp/datagate-$filter.json"
  "${DATAGATE_BIN:-${CARGO_TARGET_DIR:-target}/debug/datagate}" envoy-config --config "$tmp/datagate-$filter.json" \
    > "$tmp/global-$filter.yaml"
  validate "$tmp/global-$filter.yaml" "datagate envoy-config with a global limit ($filter filter)"
done
exit $fail
