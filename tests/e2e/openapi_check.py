#!/usr/bin/env python3
"""Validates recorded real responses against Datagate's OpenAPI document.

Usage: openapi_check.py OPENAPI.json < records.jsonl
Each record: {"method", "path", "status", "body"} (body: parsed JSON or null).
Checks that the document itself is valid OpenAPI 3.1, that every recorded
(path, method, status) is documented, and that every body matches its schema.
Exit status 1 with one line per problem otherwise.
"""
import json
import re
import sys

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

doc = json.load(open(sys.argv[1]))
validate(doc)


def pattern(template):
    # {primaryKey} and {documentPath} span one or more segments; other parameters exactly one.
    regex = re.sub(r"\{(primaryKey|documentPath)\}", r".+", re.escape(template).replace(r"\{", "{").replace(r"\}", "}"))
    regex = re.sub(r"\{[^}]+\}", r"[^/]+", regex)
    return re.compile(f"^{regex}$")


# Literal segments win over parameters (…/rows and …/batch before …/{primaryKey}).
templates = sorted(
    doc["paths"], key=lambda t: (t.count("{primaryKey}") + t.count("{documentPath}"), t.count("{"), -len(t))
)
compiled = [(t, pattern(t)) for t in templates]
problems, checked = [], 0
for line in sys.stdin:
    if not line.strip():
        continue
    rec = json.loads(line)
    where = f'{rec["method"]} {rec["path"]} -> {rec["status"]}'
    template = next((t for t, rx in compiled if rx.match(rec["path"])), None)
    if template is None:
        problems.append(f"{where}: path not in the document")
        continue
    operation = doc["paths"][template].get(rec["method"].lower())
    if operation is None:
        # A method the path does not serve: a 405 error is the documented answer.
        if rec["status"] != 405:
            problems.append(f"{where}: method not documented for {template}, and the answer is not 405")
            continue
        error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        operation = {"responses": {"405": error}}
    response = operation["responses"].get(str(rec["status"]))
    if response is None:
        problems.append(f"{where}: status not documented for {rec['method']} {template}")
        continue
    content = response.get("content", {}).get("application/json")
    if content is None:
        if rec["body"] is not None:
            problems.append(f"{where}: documented without a body, got one")
        continue
    schema = dict(content["schema"], components=doc["components"])
    errors = sorted(Draft202012Validator(schema).iter_errors(rec["body"]), key=str)
    for e in errors[:3]:
        problems.append(f"{where}: {e.message} at {list(e.absolute_path)}")
    checked += 1
for p in problems:
    print(p)
print(f"checked {checked} bodies, {len(problems)} problems", file=sys.stderr)
sys.exit(1 if problems else 0)
