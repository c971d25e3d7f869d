#!/usr/bin/env python3
"""Drives Datagate's JSON Data API with astrapy, DataStax's own client,
unmodified: keyspaces, collections, every core document command, paging,
upserts, vectors and EJSON values. Usage: dataapi_client.py BASE_URL TOKEN.
Exits non-zero (with the failing step) when anything is off."""
import datetime
import json
import sys
import uuid

from astrapy import DataAPIClient
from astrapy.authentication import UsernamePasswordTokenProvider
from astrapy.exceptions import (
    CollectionInsertManyException,
    DataAPIHttpException,
    DataAPIResponseException,
    TooManyDocumentsToCountException,
)

base, token = sys.argv[1], sys.argv[2]


def check(what, got, want):
    if got != want:
        sys.exit(f"{what}: got {got!r}, want {want!r}")


def raises(what, exc, fn):
    try:
        fn()
    except exc as e:
        return e
    sys.exit(f"{what}: expected {exc.__name__}")


client = DataAPIClient(environment="other")
db = client.get_database(base, token=token)
admin = db.get_database_admin()
admin.create_keyspace("shop", update_db_keyspace=True)
admin.create_keyspace("shop")  # idempotent
check("keyspaces", "shop" in admin.list_keyspaces(), True)

# Collections: plain, and a vector one with options echoed by explain.
people = db.create_collection("people")
vecs = db.create_collection("vecs", definition={"vector": {"dimension": 2, "metric": "cosine"},
                                                "defaultId": {"type": "uuidv7"}})
check("collection names", sorted(db.list_collection_names()), ["people", "vecs"])
opts = {d.name: d.definition.as_dict() for d in db.list_collections()}
check("vector options", opts["vecs"]["vector"]["dimension"], 2)
check("defaultId", opts["vecs"]["defaultId"]["type"], "uuidv7")

# Inserts: ids of every type, EJSON values, duplicates.
when = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)
uid = uuid.UUID("0191d1a6-6b3e-7c1f-8e3a-1b2c3d4e5f60")
check("insert_one", people.insert_one({"_id": "ada", "name": "Ada", "age": 36, "tags": ["math", "code"],
                                       "born": when, "ref": uid}).inserted_id, "ada")
check("insert numeric id", people.insert_one({"_id": 7, "name": "Seven", "age": 7}).inserted_id, 7)
auto = people.insert_one({"name": "Anon", "age": 50}).inserted_id
check("generated id is a string", isinstance(auto, str), True)
raises("duplicate insert_one", DataAPIResponseException, lambda: people.insert_one({"_id": "ada"}))
many = people.insert_many([{"_id": f"p{i:02}", "name": f"P{i}", "age": i, "group": i % 3} for i in range(45)], ordered=True)
check("insert_many ids", len(many.inserted_ids), 45)
e = raises("insert_many with a duplicate", CollectionInsertManyException,
           lambda: people.insert_many([{"_id": "new1"}, {"_id": "ada"}, {"_id": "new2"}], ordered=True))
check("ordered insert stops", e.inserted_ids, ["new1"])
check("nothing after the failure is written", people.find_one({"_id": "new2"}), None)
e = raises("unordered insert_many with a taken and a repeated id", CollectionInsertManyException,
           lambda: people.insert_many([{"_id": "new3"}, {"_id": "ada"}, {"_id": "new4"}, {"_id": "new3"}],
                                      ordered=False))
check("unordered insert keeps going", sorted(e.inserted_ids), ["new3", "new4"])
check("one error per refused document", len(e.exceptions[0].error_descriptors), 2)
check("unordered inserts read back", people.count_documents({"_id": {"$in": ["new3", "new4"]}}, upper_bound=10), 2)
people.delete_many({"_id": {"$in": ["new3", "new4"]}})

# Reads: EJSON round trip, filters, projection, sort, skip, limit, paging.
ada = people.find_one({"_id": "ada"})
born = ada["born"]
check("date round trip", born.to_datetime(tz=datetime.timezone.utc) if hasattr(born, "to_datetime") else born, when)
check("uuid round trip", str(ada["ref"]), str(uid))
check("numeric id", people.find_one({"_id": 7})["name"], "Seven")
check("find_one no match", people.find_one({"name": "Nobody"}), None)
check("array contains", people.find_one({"tags": "code"})["_id"], "ada")
check("$in / $gte", sorted(d["_id"] for d in people.find({"age": {"$gte": 42}, "group": {"$in": [0, 1]}})),
      ["p42", "p43"])
check("$or / $exists", len(list(people.find({"$or": [{"name": "Ada"}, {"tags": {"$exists": True}}]}))), 1)
check("$not", people.count_documents({"$not": {"age": {"$lt": 40}}}, upper_bound=1000), 7)
check("all paged", len(list(people.find({}))), 49)
check("limit across pages", len(list(people.find({}, limit=25))), 25)
page = list(people.find({"group": 1}, sort={"age": -1}, projection={"age": True}, skip=1, limit=3))
check("sort/skip/limit/projection", page, [{"_id": "p40", "age": 40}, {"_id": "p37", "age": 37},
                                         {"_id": "p34", "age": 34}])
check("distinct", sorted(people.distinct("group")), [0, 1, 2])
check("count", people.count_documents({"group": 2}, upper_bound=100), 15)
raises("count above upper bound", TooManyDocumentsToCountException,
       lambda: people.count_documents({}, upper_bound=10))
check("estimated count", people.estimated_document_count(), 49)

# Updates: operators, upsert, update_many paging over >20 matches.
r = people.update_one({"_id": "ada"}, {"$set": {"city": "London"}, "$inc": {"age": 1}, "$push": {"tags": "poet"}})
check("update_one", (r.update_info["n"], r.update_info["nModified"]), (1, 1))
ada = people.find_one({"_id": "ada"}, projection={"age": 1, "city": 1, "tags": 1})
check("updated", ada, {"_id": "ada", "age": 37, "city": "London", "tags": ["math", "code", "poet"]})
check("$slice", people.find_one({"_id": "ada"}, projection={"tags": {"$slice": -2}})["tags"], ["code", "poet"])
r = people.update_one({"_id": "zed"}, {"$set": {"name": "Zed"}, "$setOnInsert": {"age": 1}}, upsert=True)
check("upserted", r.update_info.get("upserted"), "zed")
check("upsert doc", people.find_one({"_id": "zed"}, projection={"_id": 0}), {"name": "Zed", "age": 1})
r = people.update_many({"age": {"$lt": 30}}, {"$set": {"young": True}})
check("update_many pages", r.update_info["n"], 32)
check("update_many applied", people.count_documents({"young": True}, upper_bound=1000), 32)
after = people.find_one_and_update({"_id": "p01"}, {"$unset": {"young": ""}, "$mul": {"age": 10}},
                                   return_document="after", projection={"age": 1})
check("find_one_and_update", after, {"_id": "p01", "age": 10})
before = people.find_one_and_replace({"_id": "p02"}, {"name": "Two"}, projection={"name": 1, "age": 1})
check("find_one_and_replace (before)", before, {"_id": "p02", "name": "P2", "age": 2})
check("replaced", people.find_one({"_id": "p02"}), {"_id": "p02", "name": "Two"})
check("replace_one", people.replace_one({"_id": "p03"}, {"name": "Three"}).update_info["n"], 1)
gone = people.find_one_and_delete({"_id": "p04"})
check("find_one_and_delete", gone["_id"], "p04")

# Deletes: one, many (more than 20 per call: the client loops), all.
check("delete_one", people.delete_one({"_id": 7}).deleted_count, 1)
check("delete_many", people.delete_many({"young": True}).deleted_count, 27)
check("left", people.count_documents({}, upper_bound=1000), 21)
people.delete_many({})
check("emptied", people.count_documents({}, upper_bound=1000), 0)

# Vectors: $binary (astrapy's default) and plain lists, similarity ordering.
vecs.insert_many([{"name": "east", "$vector": [1.0, 0.0]}, {"name": "north", "$vector": [0.0, 1.0]},
                  {"name": "northeast", "$vector": [0.7, 0.7]}])
near = vecs.find({}, sort={"$vector": [0.9, 0.1]}, include_similarity=True, limit=2)
hits = list(near)
check("vector order", [h["name"] for h in hits], ["east", "northeast"])
check("similarity", round(hits[0]["$similarity"], 3), round((1 + 0.9 / (0.9**2 + 0.1**2) ** 0.5) / 2, 3))
cur = vecs.find({}, sort={"$vector": [0.0, 1.0]}, include_sort_vector=True, limit=1)
check("sort vector", [round(x, 3) for x in list(cur.get_sort_vector())], [0.0, 1.0])
generated = vecs.find_one({"name": "east"}, projection={"_id": 1})["_id"]
check("uuidv7 default id", getattr(generated, "version", None), 7)
raises("wrong vector length", DataAPIResponseException,
       lambda: vecs.insert_one({"$vector": [1.0, 2.0, 3.0]}))

# Errors: unknown collection, bad token (401 JSON from the edge), username/password token.
raises("unknown collection", DataAPIResponseException, lambda: db.get_collection("nope").find_one({}))
bad = DataAPIClient(environment="other").get_database(base, token="not-a-key", keyspace="shop")
raises("bad token", DataAPIHttpException, lambda: bad.list_collection_names())
userpass = DataAPIClient(environment="hcd").get_database(
    base, token=UsernamePasswordTokenProvider("cassandra", "cassandra"), keyspace="shop")
raises("Cassandra:user:password token", DataAPIHttpException, lambda: userpass.list_collection_names())

db.drop_collection("vecs")
check("dropped", db.list_collection_names(), ["people"])
admin.drop_keyspace("shop")
check("keyspace dropped", "shop" in admin.list_keyspaces(), False)
print("astrapy session ok")
