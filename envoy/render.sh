#!/usr/bin/env bash
# Renders Datagate's Envoy bootstrap with `datagate envoy-config` (templates in
# ext-proc/src/envoy_config/templates/), turning the settings below into its
# Datagate config. Users can run `datagate envoy-config --config datagate.json`
# directly; this wrapper keeps the environment interface scripts and tests use.
#
#   envoy/render.sh > envoy/gateway.yaml            # the committed default
#   DATAGATE_LISTEN_PORT=18080 envoy/render.sh > x   # tests use random ports
#
# Settings (environment):
#   DATAGATE_PROFILE        edge (default): the gateway at the edge, trusting the client address;
#                           mesh: a pod sidecar behind a mesh/ingress (envoy/mesh-sidecar.yaml)
#   DATAGATE_BIND           127.0.0.1 (edge) / 0.0.0.0 (mesh)
#   DATAGATE_LISTEN_PORT    8080 (edge) / 15006 (mesh)
#   DATAGATE_ADMIN_PORT     9901 (edge) / 15000 (mesh); admin always binds 127.0.0.1
#   DATAGATE_SIDECAR_SOCKET /tmp/datagate.sock: the sidecar's Unix socket (the default transport);
#                           a comma-separated list for several replicas
#   DATAGATE_SIDECAR_PORT   TCP instead: a port (50051) or a comma-separated list (50051,50052) of
#                           replicas on 127.0.0.1; with both set, the sockets come first
#   DATAGATE_FILTER         native (default): the edge filter as an Envoy dynamic module,
#                           libdatagate_edge.so from $ENVOY_DYNAMIC_MODULES_SEARCH_PATH (set it
#                           when running Envoy: scripts/run.sh uses target/native);
#                           wasm: the portable proxy-wasm build (DATAGATE_WASM)
#   DATAGATE_DATA_PATH      upstream (default): Envoy's router forwards data requests to the sidecar
#                           as plain HTTP; extProc: Envoy's ext_proc filter asks the sidecar over
#                           gRPC (same sidecar, same listener)
#   DATAGATE_WASM           target/wasm32-wasip1/release/datagate_filter.wasm
#   DATAGATE_MAX_BODY_BYTES 1048576
#   DATAGATE_APP_PORT       8081 (mesh only): the application in the pod, 127.0.0.1; paths
#                           other than Datagate's (fragments/routes.yaml) go to it untouched
#   DATAGATE_BIN            the `datagate` binary; unset: built here (cargo build, debug)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
profile=${DATAGATE_PROFILE:-edge}
case "$profile" in
  edge | mesh) ;;
  *) echo "render.sh: DATAGATE_PROFILE must be edge or mesh, not '$profile'" >&2; exit 2 ;;
esac

case "${DATAGATE_FILTER:-native}" in
  native | wasm) ;;
  *) echo "render.sh: DATAGATE_FILTER must be native or wasm, not '$DATAGATE_FILTER'" >&2; exit 2 ;;
esac

q() { local s=${1//\\/\\\\}; printf '"%s"' "${s//\"/\\\"}"; }
fields=()
num() {  # JSON field, environment variable
  local v=${!2:-}
  [ -n "$v" ] || return 0
  [[ $v =~ ^[0-9]+$ ]] || { echo "render.sh: $2 must be a number, not '$v'" >&2; exit 2; }
  fields+=("\"$1\": $v")
}
str() { [ -z "${!2:-}" ] || fields+=("\"$1\": $(q "${!2}")"); }
str bindAddress DATAGATE_BIND
num listenPort DATAGATE_LISTEN_PORT
num adminPort DATAGATE_ADMIN_PORT
str filter DATAGATE_FILTER
str dataPath DATAGATE_DATA_PATH
str wasmPath DATAGATE_WASM
num maxBodyBytes DATAGATE_MAX_BODY_BYTES
num appPort DATAGATE_APP_PORT
list=()
if [ -n "${DATAGATE_SIDECAR_SOCKET:-}" ]; then
  IFS=, read -ra socks <<<"$DATAGATE_SIDECAR_SOCKET"
  for s in "${socks[@]}"; do list+=("$(q "unix:$s")"); done
fi
if [ -n "${DATAGATE_SIDECAR_PORT:-}" ]; then
  IFS=, read -ra ports <<<"$DATAGATE_SIDECAR_PORT"
  for p in "${ports[@]}"; do list+=("$(q "127.0.0.1:$p")"); done
fi
if [ ${#list[@]} -gt 0 ]; then
  fields+=("\"sidecars\": [$(IFS=,; echo "${list[*]}")]")
fi

bin=${DATAGATE_BIN:-}
if [ -z "$bin" ]; then
  (cd "$root" && cargo build -q --locked -p datagate-ext-proc --bin datagate)
  bin=${CARGO_TARGET_DIR:-$root/target}/debug/datagate
fi
printf '{%s}\n' "$(IFS=,; echo "${fields[*]}")" | "$bin" envoy-config --profile "$profile" --config /dev/stdin
