#!/usr/bin/env python3
"""Drives Datagate's GraphQL API with gql, a third-party client, the way an
application would: DDL on /graphql-schema, then the generated per-keyspace
schema loaded by introspection. Usage: graphql_client.py BASE_URL TOKEN.
Exits non-zero (with the failing step) when anything is off."""
import json
import sys

from gql import Client, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.requests import RequestsHTTPTransport

base, token = sys.argv[1], sys.argv[2]


def client(path, fetch_schema=True):
    transport = RequestsHTTPTransport(url=base + path, headers={"X-Cassandra-Token": token}, timeout=30)
    return Client(transport=transport, fetch_schema_from_transport=fetch_schema)


def check(what, got, want):
    if got != want:
        sys.exit(f"{what}: got {json.dumps(got)}, want {json.dumps(want)}")


ddl = client("/graphql-schema")
with ddl as s:
    check("createKeyspace", s.execute(gql('mutation { createKeyspace(name: "library") }')), {"createKeyspace": True})
    check("createKeyspace again", s.execute(gql('mutation { createKeyspace(name: "library", ifNotExists: true) }')),
          {"createKeyspace": False})
    created = s.execute(gql("""
      mutation {
        createTable(keyspaceName: "library", tableName: "vehicle",
          partitionKeys: [{name: "manufacturer", type: "text"}],
          clusteringKeys: [{name: "model", type: "text", order: "ASC"}],
          values: [{name: "year", type: "int"}, {name: "price", type: "bigint"}, {name: "weight", type: "decimal"},
                   {name: "tags", type: "set<text>"}, {name: "specs", type: "map<text, int>"}])
      }"""))
    check("createTable", created, {"createTable": True})
    ks = s.execute(gql('{ keyspace(name: "library") { name tables { name partitionKeys clusteringKeys } } }'))
    check("keyspace query", ks["keyspace"]["tables"],
          [{"name": "vehicle", "partitionKeys": ["manufacturer"], "clusteringKeys": ["model"]}])

data = client("/graphql/library")
with data as s:
    # Introspection: the generated types are there, with their fields.
    t = s.execute(gql('{ __type(name: "vehicle") { fields { name } } }'))
    check("introspection", sorted(f["name"] for f in t["__type"]["fields"]),
          ["manufacturer", "model", "price", "specs", "tags", "weight", "year"])
    insert = gql("""mutation add($v: vehicleInput!) { insertvehicle(value: $v) { applied value { model } } }""")
    rows = [
        {"manufacturer": "Tesla", "model": "Model S", "year": 2012, "price": "79990", "weight": "2162.50", "tags": ["ev", "sedan"],
         "specs": [{"key": "doors", "value": 4}]},
        {"manufacturer": "Tesla", "model": "Model 3", "year": 2017, "price": "9007199254740993", "tags": ["ev"],
         "specs": [{"key": "doors", "value": 4}, {"key": "seats", "value": 5}]},
        {"manufacturer": "Tesla", "model": "Roadster", "year": 2008, "tags": ["ev", "sport"]},
    ]
    for r in rows:
        check("insert", s.execute(insert, variable_values={"v": r})["insertvehicle"]["applied"], True)
    bulk = s.execute(gql("""mutation { bulkInsertvehicle(values: [
        {manufacturer: "Volvo", model: "XC90", year: 2002, tags: ["suv"]},
        {manufacturer: "Ford", model: "T", year: 1908}]) { applied } }"""))
    check("bulkInsert", bulk, {"bulkInsertvehicle": [{"applied": True}, {"applied": True}]})

    # The query from the project's origin, verbatim.
    origin = s.execute(gql("""query vehicles {
  vehicle(value: { manufacturer: "Tesla" }) {
    values { manufacturer model year }
  }
}"""))
    check("origin query", origin["vehicle"]["values"], [
        {"manufacturer": "Tesla", "model": "Model 3", "year": 2017},
        {"manufacturer": "Tesla", "model": "Model S", "year": 2012},
        {"manufacturer": "Tesla", "model": "Roadster", "year": 2008}])

    def models(filter_text, order=""):
        q = gql("{ vehicle(filter: %s%s) { values { model } } }" % (filter_text, order))
        return [v["model"] for v in s.execute(q)["vehicle"]["values"]]

    check("eq", models('{manufacturer: {eq: "Tesla"}, year: {eq: 2012}}'), ["Model S"])
    check("notEq", models('{manufacturer: {eq: "Tesla"}, model: {notEq: "Model S"}}'), ["Model 3", "Roadster"])
    check("gt/lte", models('{year: {gt: 2008, lte: 2017}}', ", orderBy: [year_ASC]"), ["Model S", "Model 3"])
    check("gte/lt", models('{year: {gte: 1908, lt: 2008}}', ", orderBy: [year_DESC]"), ["XC90", "T"])
    check("in", models('{manufacturer: {in: ["Volvo", "Ford"]}}', ", orderBy: [model_ASC]"), ["T", "XC90"])
    check("contains", models('{tags: {contains: "sport"}}'), ["Roadster"])
    check("containsKey", models('{specs: {containsKey: "seats"}}'), ["Model 3"])
    check("containsEntry", models('{specs: {containsEntry: {key: "doors", value: 4}}}', ", orderBy: [model_ASC]"),
          ["Model 3", "Model S"])
    big = s.execute(gql('{ vehicle(value: {manufacturer: "Tesla", model: "Model 3"}) { values { price specs { key value } } } }'))
    check("bigint beyond 2^53 and map entries", big["vehicle"]["values"][0],
          {"price": "9007199254740993", "specs": [{"key": "doors", "value": 4}, {"key": "seats", "value": 5}]})

    w = s.execute(gql('{ vehicle(filter: {manufacturer: {eq: "Tesla"}, weight: {gt: "2000.1"}}) { values { weight } } }'))
    check("decimal, exact and compared as a number", w["vehicle"]["values"], [{"weight": "2162.50"}])

    # Paging through everything with pageState.
    seen, state = [], None
    page = gql("""query p($s: String) { vehicle(options: {pageSize: 2, pageState: $s}) {
                    values { manufacturer model } pageState } }""")
    while True:
        r = s.execute(page, variable_values={"s": state})["vehicle"]
        check("page size", len(r["values"]) <= 2, True)
        seen += [v["model"] for v in r["values"]]
        state = r["pageState"]
        if not state:
            break
    check("paging covers every row once", sorted(seen), ["Model 3", "Model S", "Roadster", "T", "XC90"])
    check("limit", len(s.execute(gql("{ vehicle(options: {limit: 1}) { values { model } pageState } }"))["vehicle"]["values"]), 1)

    # update, delete, ttl.
    upd = s.execute(gql('mutation { updatevehicle(value: {manufacturer: "Ford", model: "T", year: 1909}) { applied } }'))
    check("update", upd, {"updatevehicle": {"applied": True}})
    check("after update", s.execute(gql('{ vehicle(value: {manufacturer: "Ford"}) { values { year } } }'))["vehicle"]["values"],
          [{"year": 1909}])
    s.execute(gql('mutation { deletevehicle(value: {manufacturer: "Ford", model: "T"}) { applied } }'))
    check("after delete", s.execute(gql('{ vehicle(value: {manufacturer: "Ford"}) { values { year } } }'))["vehicle"]["values"], [])
    s.execute(gql('mutation { insertvehicle(value: {manufacturer: "Kia", model: "EV6"}, options: {ttl: 600}) { applied } }'))
    again = s.execute(gql('mutation { insertvehicle(value: {manufacturer: "Kia", model: "EV6", year: 1}, ifNotExists: true) { applied } }'))
    check("ifNotExists on an existing row", again, {"insertvehicle": {"applied": False}})
    gone = s.execute(gql('mutation { updatevehicle(value: {manufacturer: "Kia", model: "EV9", year: 1}, ifExists: true) { applied } }'))
    check("ifExists on a missing row", gone, {"updatevehicle": {"applied": False}})

    # Errors come back in the errors array, with a message that says what to fix.
    for bad, needle in [
        ('mutation { insertvehicle(value: {model: "x"}) { applied } }', "manufacturer"),
        ('{ vehicle(filter: {year: {eq: 1}}, options: {pageSize: 0}) { values { model } } }', "options.pageSize"),
        ('{ vehicle(options: {pageState: "garbage"}) { values { model } } }', "page-state"),
    ]:
        try:
            s.execute(gql(bad))
            sys.exit(f"no error for {bad}")
        except TransportQueryError as e:
            if needle not in str(e):
                sys.exit(f"error for {bad} does not mention {needle}: {e}")

# DDL, then the new table is usable at once (the schema is regenerated).
with ddl as s:
    s.execute(gql("""mutation { createTable(keyspaceName: "library", tableName: "book",
        partitionKeys: [{name: "isbn", type: "text"}], values: [{name: "title", type: "text"}]) }"""))
with client("/graphql/library") as s:
    s.execute(gql('mutation { insertbook(value: {isbn: "978-0", title: "Dune"}) { applied } }'))
    check("new table", s.execute(gql('{ book(value: {isbn: "978-0"}) { values { title } } }'))["book"]["values"],
          [{"title": "Dune"}])
with ddl as s:
    s.execute(gql('mutation { alterTableAdd(keyspaceName: "library", tableName: "book", toAdd: [{name: "pages", type: "int"}]) }'))
    s.execute(gql('mutation { createIndex(keyspaceName: "library", tableName: "book", columnName: "title", indexName: "by_title") }'))
    check("dropIndex", s.execute(gql('mutation { dropIndex(keyspaceName: "library", indexName: "by_title") }')), {"dropIndex": True})
with client("/graphql/library") as s:
    s.execute(gql('mutation { updatebook(value: {isbn: "978-0", pages: 412}) { applied } }'))
    check("added column", s.execute(gql('{ book { values { pages } } }'))["book"]["values"], [{"pages": 412}])
with ddl as s:
    check("dropTable", s.execute(gql('mutation { dropTable(keyspaceName: "library", tableName: "book") }')), {"dropTable": True})
print("ok")
