#!/usr/bin/env bash
# A Documents API session against a running gateway (`make run`): schemaless JSON, paths, search.
# Usage: examples/documents.sh [BASE_URL]   (AUTH_TOKEN is minted for tenant "demo" when unset)
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-http://localhost:8080}
: "${AUTH_TOKEN:=$(target/release/datagate token --tenant demo)}"
show() { local line="$*"; echo; echo "\$ ${line//$AUTH_TOKEN/\$AUTH_TOKEN}"; "$@"; echo; }
h=(-H "X-Cassandra-Token: $AUTH_TOKEN" -H 'Content-Type: application/json')
c="$base/v2/namespaces/shop/collections/products"

show curl -s -X POST "$base/v2/schemas/namespaces" "${h[@]}" -d '{"name":"shop"}'
# no schema up front: the collection is created by the first write
show curl -s -X POST "$c" "${h[@]}" -d '{"name":"Desk","price":250,"tags":["office"],"dims":{"h":75,"w":140}}'
show curl -s -X PUT "$c/lamp" "${h[@]}" -d '{"name":"Lamp","price":30,"tags":["home"]}'
show curl -s -X POST "$c/batch?id-path=sku" "${h[@]}" \
  -d '[{"sku":"chair","name":"Chair","price":80,"tags":["home","office"]},{"sku":"pen","name":"Pen","price":2,"tags":["office"]}]'
# sub-documents by path
show curl -s -X PUT "$c/lamp/dims" "${h[@]}" -d '{"h":40}'
show curl -s -X PATCH "$c/lamp/dims" "${h[@]}" -d '{"w":20}'
show curl -s "$c/lamp/dims" "${h[@]}"
# search any nested field; [*] is any array element; sort and fields; paged with page-state
show curl -s -G "$c" "${h[@]}" --data-urlencode 'where={"tags.[*]":{"$eq":"office"},"price":{"$lt":100}}' \
  --data-urlencode 'sort={"price":"desc"}' --data-urlencode 'fields=["name","price"]'
show curl -s -X POST "$c/lamp/tags/function" "${h[@]}" -d '{"operation":"$push","value":"sale"}'
show curl -s -X PUT "$c/json-schema" "${h[@]}" -d '{"type":"object","required":["name","price"],"properties":{"price":{"type":"number","minimum":0}}}'
echo "# a write that breaks the schema lists every violation:"
show curl -s -X POST "$c" "${h[@]}" -d '{"price":-1}'
show curl -s -X DELETE -o /dev/null -w '%{http_code}\n' "$base/v2/schemas/namespaces/shop" "${h[@]}"
