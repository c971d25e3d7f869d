#!/usr/bin/env bash
# Sets up and runs the gateway on the embedded SQLite store, in the foreground:
#   Envoy on 127.0.0.1:8080 (admin 127.0.0.1:9901) -> edge filter -> router ->
#   datagate sidecar (Unix socket /tmp/datagate.sock; DATAGATE_SIDECAR_PORT=50051
#   for TCP instead; its /metrics on 127.0.0.1:9911) -> SQLite at .datagate/datagate.db.
# Ports: DATAGATE_LISTEN_PORT, DATAGATE_ADMIN_PORT (Envoy's), DATAGATE_SIDECAR_ADMIN_PORT.
# Ctrl-C stops everything it started. Data survives restarts.
# The edge filter is the native Envoy dynamic module; DATAGATE_FILTER=wasm runs
# the proxy-wasm build instead; DATAGATE_DATA_PATH=extProc has Envoy hand requests
# to the sidecar through its ext_proc filter instead of routing them to it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

port=${DATAGATE_LISTEN_PORT:-8080}
admin=${DATAGATE_ADMIN_PORT:-9901}
# The sidecar's own admin port (/metrics, /healthz, /readyz).
metrics=${DATAGATE_SIDECAR_ADMIN_PORT:-9911}
# The sidecar listens on a Unix socket unless a TCP port is asked for.
sidecar=${DATAGATE_SIDECAR_PORT:-}
socket=${DATAGATE_SIDECAR_SOCKET:-/tmp/datagate.sock}
busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [ "$(printf '%s\n' "$port" "$admin" "$metrics" $sidecar | sort | uniq -d)" ]; then
  echo "error: two of the ports are the same: listen $port, Envoy admin $admin, sidecar admin $metrics${sidecar:+, sidecar $sidecar}." >&2
  exit 1
fi
for p in "$port" "$admin" "$metrics" $sidecar; do
  if busy "$p"; then
    echo "error: port $p is already in use (another Datagate running?). Set DATAGATE_LISTEN_PORT / DATAGATE_ADMIN_PORT / DATAGATE_SIDECAR_ADMIN_PORT / DATAGATE_SIDECAR_PORT." >&2
    exit 1
  fi
done

filter=${DATAGATE_FILTER:-native}
mkdir -p .datagate
# `datagate envoy-config` output (envoy/render.sh turns these settings into its config).
if [ -n "$sidecar" ]; then
  listen="127.0.0.1:$sidecar" render_sidecar=(DATAGATE_SIDECAR_PORT="$sidecar")
else
  listen="unix:$socket" render_sidecar=(DATAGATE_SIDECAR_SOCKET="$socket")
fi
env DATAGATE_LISTEN_PORT="$port" DATAGATE_ADMIN_PORT="$admin" "${render_sidecar[@]}" DATAGATE_FILTER="$filter" \
  DATAGATE_BIN=target/release/datagate envoy/render.sh > .datagate/envoy.yaml
sidecar_up() { if [ -n "$sidecar" ]; then busy "$sidecar"; else [ -S "$socket" ]; fi; }
# Where Envoy finds libdatagate_edge.so.
export ENVOY_DYNAMIC_MODULES_SEARCH_PATH=$PWD/target/native

pids=()
stopping=no
cleanup() {
  trap - INT TERM EXIT
  stopping=yes
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "Datagate stopped."
}
# Ctrl-C / SIGTERM is the normal way to stop: clean up and exit 0.
trap 'cleanup; exit 0' INT TERM
trap cleanup EXIT

target/release/datagate serve --listen "$listen" --store sqlite://.datagate/datagate.db \
  --admin-listen "127.0.0.1:$metrics" \
  > .datagate/sidecar.log 2>&1 &
pids+=($!)
.venv/bin/envoy -c .datagate/envoy.yaml --log-level warn --disable-hot-restart \
  > .datagate/envoy.log 2>&1 &
pids+=($!)

for _ in $(seq 1 100); do
  if curl -fs "http://127.0.0.1:$admin/ready" >/dev/null 2>&1 && sidecar_up; then break; fi
  sleep 0.1
done
if ! curl -fs "http://127.0.0.1:$admin/ready" >/dev/null 2>&1; then
  echo "error: Envoy did not start; see .datagate/envoy.log:" >&2; tail -n 20 .datagate/envoy.log >&2; exit 1
fi

token=$(target/release/datagate token --tenant demo --ttl 24h)
base="http://localhost:$port"
cat <<MSG

Datagate is running: $base  (Envoy admin http://127.0.0.1:$admin, store .datagate/datagate.db, edge filter: $filter)
Logs: .datagate/envoy.log (access log), .datagate/sidecar.log. Ctrl-C stops everything.

A development token for tenant "demo" (valid 24 h; mint more with: target/release/datagate token --tenant NAME):

  export AUTH_TOKEN=$token

Try it:

  curl -s -X POST $base/v2/schemas/keyspaces -H "X-Cassandra-Token: \$AUTH_TOKEN" -d '{"name":"blog"}'
  curl -s -X POST $base/v2/schemas/keyspaces/blog/tables -H "X-Cassandra-Token: \$AUTH_TOKEN" -d '{"name":"vehicle","ifNotExists":true,"columnDefinitions":[{"name":"manufacturer","typeDefinition":"text"},{"name":"model","typeDefinition":"text"},{"name":"year","typeDefinition":"int"}],"primaryKey":{"partitionKey":["manufacturer"],"clusteringKey":["model"]}}'
  curl -s -X POST $base/v2/keyspaces/blog/vehicle -H "X-Cassandra-Token: \$AUTH_TOKEN" -d '{"manufacturer":"Tesla","model":"Model S","year":2012}'
  curl -L -X GET '$base/v2/keyspaces/blog/vehicle?where=\{"manufacturer":\{"\$eq":"Tesla"\}\}' -H "X-Cassandra-Token: \$AUTH_TOKEN" -H 'Content-Type: application/json'

MSG
wait -n "${pids[@]}" || true
if [ "$stopping" = no ]; then
  echo "a Datagate process exited unexpectedly; see .datagate/envoy.log and .datagate/sidecar.log" >&2
  exit 1
fi
