#!/usr/bin/env bash
# Runs a small Datagate fleet on loopback, in the foreground, to try fail-over:
#   2 Envoys   127.0.0.1:8080 and :8081 (admin :9901 and :9902), each balancing over
#   2 sidecars 127.0.0.1:50051 and :50052 (health-checked, outlier detection on), on
#   PostgreSQL 127.0.0.1:5432, database datagate_fleet (scripts/postgres.sh starts one),
#   Redis 127.0.0.1:6379 (scripts/redis.sh) holding global per-tenant budgets: a
#   tenant's plan (demo: 20 requests/s, burst 40) holds for the fleet, not per Envoy.
# The Envoy configs are `datagate envoy-config` output from $dir/datagate-<i>.json.
# Ctrl-C stops everything it started (sidecars drain first). Data stays in PostgreSQL.
#
# Settings (environment):
#   DATAGATE_LISTEN_PORT  8080   first Envoy; the second uses the next port
#   DATAGATE_ADMIN_PORT   9901   first Envoy's admin; the second uses the next port
#   DATAGATE_SIDECAR_PORT 50051  first sidecar; the second uses the next port
#   DATAGATE_STORE        postgres://postgres@127.0.0.1:5432/datagate_fleet
#   DATAGATE_REDIS        redis://127.0.0.1:6379
#   DATAGATE_BIN          target/release/datagate (e.g. target/debug/datagate to skip the release build)
set -euo pipefail
cd "$(dirname "$0")/.."

listen=${DATAGATE_LISTEN_PORT:-8080}
admin=${DATAGATE_ADMIN_PORT:-9901}
sidecar=${DATAGATE_SIDECAR_PORT:-50051}
store=${DATAGATE_STORE:-postgres://postgres@127.0.0.1:5432/datagate_fleet}
redis=${DATAGATE_REDIS:-redis://127.0.0.1:6379}
bin=${DATAGATE_BIN:-target/release/datagate}
envoys=("$listen" "$((listen + 1))")
admins=("$admin" "$((admin + 1))")
sidecars=("$sidecar" "$((sidecar + 1))")
dir=.datagate/fleet

if [ "$bin" = target/release/datagate ]; then
  scripts/setup.sh
elif [ ! -x "$bin" ] || [ ! -x .venv/bin/envoy ] || [ ! -f target/native/libdatagate_edge.so ]; then
  echo "error: $bin, .venv/bin/envoy or the edge filter (target/native/libdatagate_edge.so) is missing: run scripts/setup.sh first" >&2
  exit 1
fi
scripts/postgres.sh
[ "$redis" != redis://127.0.0.1:6379 ] || scripts/redis.sh

busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "${envoys[@]}" "${admins[@]}" "${sidecars[@]}"; do
  if busy "$p"; then
    echo "error: port $p is already in use. Set DATAGATE_LISTEN_PORT / DATAGATE_ADMIN_PORT / DATAGATE_SIDECAR_PORT." >&2
    exit 1
  fi
done

# The fleet's database, created once.
if [[ $store == postgres://*/datagate_fleet ]]; then
  admin_url=${store%/datagate_fleet}/postgres
  if [ -z "$(psql "$admin_url" -tAc "SELECT 1 FROM pg_database WHERE datname = 'datagate_fleet'")" ]; then
    psql "$admin_url" -qc "CREATE DATABASE datagate_fleet"
  fi
fi

mkdir -p "$dir"
for i in 0 1; do
  cat > "$dir/datagate-$i.json" <<JSON
{
  "listenPort": ${envoys[$i]},
  "adminPort": ${admins[$i]},
  "sidecars": ["127.0.0.1:${sidecars[0]}", "127.0.0.1:${sidecars[1]}"],
  "rateLimit": {"plans": {"demo": {"requestsPerSecond": 20, "burst": 40}}, "defaultPlan": "demo"},
  "globalLimit": {"leaseSize": 5, "failureMode": "open"}
}
JSON
  "$bin" envoy-config --profile edge --config "$dir/datagate-$i.json" > "$dir/envoy-$i.yaml"
done

pids=()
stopping=no
cleanup() {
  trap - INT TERM EXIT
  stopping=yes
  # SIGTERM: each sidecar reports NOT_SERVING, drains its streams, exits.
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "Datagate fleet stopped."
}
trap 'cleanup; exit 0' INT TERM
trap cleanup EXIT

for i in 0 1; do
  "$bin" serve --listen "127.0.0.1:${sidecars[$i]}" --store "$store" --redis "$redis" > "$dir/sidecar-$i.log" 2>&1 &
  pids+=($!)
done
# Where Envoy finds the native edge filter, libdatagate_edge.so (scripts/setup.sh builds it).
export ENVOY_DYNAMIC_MODULES_SEARCH_PATH=$PWD/target/native
for i in 0 1; do
  .venv/bin/envoy -c "$dir/envoy-$i.yaml" --log-level warn --disable-hot-restart > "$dir/envoy-$i.log" 2>&1 &
  pids+=($!)
done

for i in 0 1; do
  for _ in $(seq 1 150); do
    if curl -fs "http://127.0.0.1:${admins[$i]}/ready" >/dev/null 2>&1; then break; fi
    sleep 0.1
  done
  if ! curl -fs "http://127.0.0.1:${admins[$i]}/ready" >/dev/null 2>&1; then
    echo "error: Envoy $i did not start; see $dir/envoy-$i.log:" >&2; tail -n 20 "$dir/envoy-$i.log" >&2; exit 1
  fi
done

token=$("$bin" token --tenant demo --ttl 24h)
a="http://localhost:${envoys[0]}"
b="http://localhost:${envoys[1]}"
cat <<MSG

A Datagate fleet is running on $store:
  envoy 0  $a  (admin http://127.0.0.1:${admins[0]})      sidecar 0  127.0.0.1:${sidecars[0]}  pid ${pids[0]}
  envoy 1  $b  (admin http://127.0.0.1:${admins[1]})      sidecar 1  127.0.0.1:${sidecars[1]}  pid ${pids[1]}
Logs: $dir/. Ctrl-C stops everything.

  export AUTH_TOKEN=$token

Write through one Envoy, read through the other:

  curl -s -X POST $a/v2/schemas/keyspaces -H "X-Cassandra-Token: \$AUTH_TOKEN" -d '{"name":"blog"}'
  curl -s -X POST $a/v2/schemas/keyspaces/blog/tables -H "X-Cassandra-Token: \$AUTH_TOKEN" -d '{"name":"vehicle","ifNotExists":true,"columnDefinitions":[{"name":"manufacturer","typeDefinition":"text"},{"name":"model","typeDefinition":"text"},{"name":"year","typeDefinition":"int"}],"primaryKey":{"partitionKey":["manufacturer"],"clusteringKey":["model"]}}'
  curl -s -X POST $a/v2/keyspaces/blog/vehicle -H "X-Cassandra-Token: \$AUTH_TOKEN" -d '{"manufacturer":"Tesla","model":"Model S","year":2012}'
  curl -s $b/v2/keyspaces/blog/vehicle/Tesla -H "X-Cassandra-Token: \$AUTH_TOKEN"

One budget for both Envoys (plan demo: burst 40, 20/s): 60 quick requests across the two
get about 40 answers and then 429s, not 80:

  for i in \$(seq 30); do for u in $a $b; do curl -s -o /dev/null -w '%{http_code} ' \$u/v2/schemas/keyspaces -H "X-Cassandra-Token: \$AUTH_TOKEN"; done; done; echo

Fail over: stop a sidecar and watch Envoy take it out of rotation (and back once it restarts):

  kill -9 ${pids[1]}
  curl -s http://127.0.0.1:${admins[0]}/clusters | grep health_flags
  $bin serve --listen 127.0.0.1:${sidecars[1]} --store $store --redis $redis &   # back in rotation within a second or two

MSG
# A sidecar killed on purpose is the point of the exercise: keep running while an Envoy lives.
while [ "$stopping" = no ]; do
  # `wait` (unlike a foreground sleep) returns at once when Ctrl-C runs the trap.
  sleep 1 & wait $! || true
  [ "$stopping" = no ] || break
  alive=no
  for i in 2 3; do kill -0 "${pids[$i]}" 2>/dev/null && alive=yes; done
  if [ "$alive" = no ]; then
    echo "both Envoys exited; see $dir/envoy-*.log" >&2
    exit 1
  fi
done
