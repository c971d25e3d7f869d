#!/usr/bin/env bash
# A REST session against a running gateway (`make run`): schema, writes, reads, paging, errors.
# Usage: examples/rest.sh [BASE_URL]   (AUTH_TOKEN is minted for tenant "demo" when unset)
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-http://localhost:8080}
: "${AUTH_TOKEN:=$(target/release/datagate token --tenant demo)}"
show() { local line="$*"; echo; echo "\$ ${line//$AUTH_TOKEN/\$AUTH_TOKEN}"; "$@"; echo; }
h=(-H "X-Cassandra-Token: $AUTH_TOKEN" -H 'Content-Type: application/json')

show curl -s "$base/health"
show curl -s -X POST "$base/v2/schemas/keyspaces" "${h[@]}" -d '{"name":"examples"}'
show curl -s -X POST "$base/v2/schemas/keyspaces/examples/tables" "${h[@]}" -d '{
  "name":"vehicle","ifNotExists":true,
  "columnDefinitions":[{"name":"manufacturer","typeDefinition":"text"},{"name":"model","typeDefinition":"text"},{"name":"year","typeDefinition":"int"}],
  "primaryKey":{"partitionKey":["manufacturer"],"clusteringKey":["model"]}}'
for row in '{"manufacturer":"Tesla","model":"Model S","year":2012}' \
           '{"manufacturer":"Tesla","model":"Model 3","year":2017}' \
           '{"manufacturer":"Volvo","model":"XC90","year":2002}'; do
  show curl -s -X POST "$base/v2/keyspaces/examples/vehicle" "${h[@]}" -d "$row"
done
show curl -s -G "$base/v2/keyspaces/examples/vehicle" "${h[@]}" --data-urlencode 'where={"manufacturer":{"$eq":"Tesla"},"year":{"$gte":2015}}'
show curl -s "$base/v2/keyspaces/examples/vehicle/Tesla?page-size=1" "${h[@]}"
show curl -s -X PATCH "$base/v2/keyspaces/examples/vehicle/Tesla/Model%20S" "${h[@]}" -d '{"year":2013}'
show curl -s "$base/v2/keyspaces/examples/vehicle/rows?fields=model,year&raw=true" "${h[@]}"
show curl -s -X DELETE -o /dev/null -w '%{http_code}\n' "$base/v2/keyspaces/examples/vehicle/Volvo" "${h[@]}"
echo "# errors are JSON with a status a client can act on:"
show curl -s -G "$base/v2/keyspaces/examples/vehicle" "${h[@]}" --data-urlencode 'where={"year":{"$like":1}}'
show curl -s "$base/v2/keyspaces/examples/vehicle/rows"
