#!/usr/bin/env python3
"""A JSON Data API session with astrapy, DataStax's own client, unmodified,
against a running gateway (`make run`). Usage:
    AUTH_TOKEN=$(target/release/datagate token --tenant demo) .venv/bin/python examples/data-api.py [BASE_URL]
(pip install astrapy==2.3.2; `scripts/setup.sh --for-tests` puts it in .venv)."""
import os
import sys

from astrapy import DataAPIClient

base = sys.argv[1] if len(sys.argv) > 1 else "http://localhost:8080"
token = os.environ["AUTH_TOKEN"]  # a Datagate JWT or API key, sent in the `Token` header

# Self-hosted: environment "other" (or "hcd"); the keyspace is created first.
db = DataAPIClient(environment="other").get_database(base, token=token)
db.get_database_admin().create_keyspace("demo_shop", update_db_keyspace=True)

# A vector collection: 3 dimensions, cosine similarity.
products = db.create_collection("products", definition={"vector": {"dimension": 3, "metric": "cosine"}})
products.insert_many([
    {"_id": "desk", "name": "Desk", "price": 250, "tags": ["office"], "$vector": [0.9, 0.1, 0.0]},
    {"_id": "lamp", "name": "Lamp", "price": 30, "tags": ["home"], "$vector": [0.1, 0.9, 0.1]},
    {"_id": "chair", "name": "Chair", "price": 80, "tags": ["home", "office"], "$vector": [0.7, 0.3, 0.1]},
])
print("cheap office things:", [d["name"] for d in products.find({"tags": "office", "price": {"$lt": 100}})])
print("by price:", [d["name"] for d in products.find({}, sort={"price": -1}, projection={"name": True})])
products.update_one({"_id": "lamp"}, {"$inc": {"price": 5}, "$push": {"tags": "sale"}})
print("lamp:", products.find_one({"_id": "lamp"}, projection={"price": 1, "tags": 1}))
for d in products.find({}, sort={"$vector": [1.0, 0.0, 0.0]}, limit=2, include_similarity=True):
    print("nearest:", d["name"], round(d["$similarity"], 3))
print("count:", products.count_documents({}, upper_bound=100))
# The same collection is a Documents API collection:
#   curl -H "X-Cassandra-Token: $AUTH_TOKEN" localhost:8080/v2/namespaces/demo_shop/collections/products/desk
db.drop_collection("products")
db.get_database_admin().drop_keyspace("demo_shop")
