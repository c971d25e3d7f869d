#!/usr/bin/env bash
# Validates every Envoy config in the repo with the pinned Envoy
# (`envoy --mode validate` also loads the .wasm and runs its on_configure), and
# checks that the committed renders match the fragments they come from.
set -euo pipefail
cd "$(dirname "$0")/.."
envoy=.venv/bin/envoy
fail=0

check_render() {  # committed file, then render settings
  local file=$1; shift
  if ! diff -u "$file" <(env "$@" envoy/render.sh) >/dev/null; then
    echo "FAIL $file is out of date: re-render it with envoy/render.sh ($*)"; fail=1
  fi
}
check_render envoy/gateway.yaml DATAGATE_PROFILE=edge
check_render envoy/mesh-sidecar.yaml DATAGATE_PROFILE=mesh

while IFS= read -r cfg; do
  if out=$("$envoy" --mode validate -c "$cfg" --log-level error --disable-hot-restart 2>&1); then
    echo "ok   $cfg"
  else
    echo "FAIL $cfg"; echo "$out" | tail -n 20; fail=1
  fi
done < <(grep -rlE '^static_resources:' envoy examples --include='*.yaml' | sort)
exit $fail
