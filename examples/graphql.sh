#!/usr/bin/env bash
# A GraphQL session against a running gateway (`make run`): DDL, mutations, the origin query, paging.
# Usage: examples/graphql.sh [BASE_URL]   (AUTH_TOKEN is minted for tenant "demo" when unset)
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-http://localhost:8080}
: "${AUTH_TOKEN:=$(target/release/datagate token --tenant demo)}"
gql() { # gql PATH QUERY: POST {"query": QUERY} and print the response
  local body; body=$(python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1]}))' "$2")
  echo; echo "\$ POST $1"; echo "$2"
  curl -s -X POST "$base$1" -H "X-Cassandra-Token: $AUTH_TOKEN" -H 'Content-Type: application/json' -d "$body"; echo
}
gql /graphql-schema 'mutation { createKeyspace(name: "gqldemo", ifNotExists: true) }'
gql /graphql-schema 'mutation { createTable(keyspaceName: "gqldemo", tableName: "vehicle", ifNotExists: true,
  partitionKeys: [{name: "manufacturer", type: "text"}], clusteringKeys: [{name: "model", type: "text"}],
  values: [{name: "year", type: "int"}, {name: "tags", type: "set<text>"}]) }'
gql /graphql/gqldemo 'mutation { a: insertvehicle(value: {manufacturer: "Tesla", model: "Model S", year: 2012, tags: ["ev"]}) { applied }
  b: insertvehicle(value: {manufacturer: "Tesla", model: "Model 3", year: 2017}) { applied }
  c: insertvehicle(value: {manufacturer: "Tesla", model: "Model 3", year: 1}, ifNotExists: true) { applied } }'
gql /graphql/gqldemo 'query vehicles {
  vehicle(value: { manufacturer: "Tesla" }) {
    values { manufacturer model year }
  }
}'
gql /graphql/gqldemo '{ vehicle(filter: {year: {gte: 2015}}, orderBy: [year_DESC], options: {pageSize: 1}) { values { model year } pageState } }'
echo; echo "Open $base/playground?keyspace=gqldemo in a browser (paste the token) to explore."
