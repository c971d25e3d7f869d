#!/usr/bin/env python3
"""Validates the deployment examples (run by `make test`):

- kubernetes/: every core object against the Kubernetes OpenAPI schemas
  (kubernetes-validate --strict); the ConfigMap is the current render and its
  Envoy bootstrap passes `envoy --mode validate`.
- envoy-gateway/ and istio/ (CRD objects, no schemas bundled here): parsed, and
  the fields Datagate relies on checked against the shipped fragments, so the
  examples cannot drift from what the tests run (filter config, root id, ext_proc
  processing mode as `"dataPath": "extProc"` renders it, fail-closed, sidecar Service
  and port, Datagate's paths).

Every problem is listed before failing.
"""

import json
import os
import pathlib
import subprocess
import sys
import tempfile

import yaml

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VENV = ROOT / ".venv" / "bin"
problems = []


def check(ok, what):
    if not ok:
        problems.append(what)


def docs(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def fragment(name):
    return yaml.safe_load((ROOT / "envoy" / "fragments" / name).read_text())


filters = {f["name"]: f["typed_config"] for f in fragment("http-filters.yaml")}
# The shipped fragment carries the native module; its JSON config is the same for the
# wasm build, whose own lines (root id, VM) are in edge-wasm.yaml.
edge_config = json.loads(filters["datagate.edge"]["filter_config"]["value"])
edge = yaml.safe_load("typed_config:\n" + "\n".join(
    line for line in (ROOT / "envoy" / "fragments" / "edge-wasm.yaml").read_text().splitlines()
    if not line.startswith("#")))["typed_config"]["config"]
# The committed fragments are the upstream data path's (the router sends Datagate's
# paths to the sidecars); the Envoy Gateway and Istio examples attach the sidecar as
# ext_proc, which is what those platforms attach: compare with that render.
with tempfile.TemporaryDirectory() as tmp:
    config = pathlib.Path(tmp) / "datagate.json"
    config.write_text('{"dataPath": "extProc"}')
    datagate = os.environ.get("DATAGATE_BIN") or str(ROOT / os.environ.get("CARGO_TARGET_DIR", "target") / "debug" / "datagate")
    subprocess.run(
        [datagate, "envoy-config", "--profile", "include", "--config", str(config), "--out-dir", tmp], check=True
    )
    ext_proc_filters = yaml.safe_load((pathlib.Path(tmp) / "http-filters.yaml").read_text())
ext_proc = {f["name"]: f["typed_config"] for f in ext_proc_filters}["envoy.filters.http.ext_proc"]
cluster = fragment("clusters.yaml")[0]
health_service = cluster["health_checks"][0]["grpc_health_check"]["service_name"]
datagate_paths = sorted(r["match"]["path_separated_prefix"] for r in fragment("routes.yaml"))

# --- kubernetes/ -------------------------------------------------------------
k8s = sorted((HERE / "kubernetes").glob("*.yaml"))
run = subprocess.run(
    [str(VENV / "kubernetes-validate"), "--strict", "--quiet", *map(str, k8s)], capture_output=True, text=True
)
check(run.returncode == 0, f"kubernetes-validate: {run.stdout}{run.stderr}")

rendered = subprocess.run(
    ["bash", str(HERE / "kubernetes" / "render-configmap.sh")], capture_output=True, text=True, check=True
).stdout
configmap_path = HERE / "kubernetes" / "envoy-configmap.yaml"
check(
    rendered == configmap_path.read_text(),
    "kubernetes/envoy-configmap.yaml is out of date: re-render it with kubernetes/render-configmap.sh",
)
bootstrap = docs(configmap_path)[0]["data"]["envoy.yaml"]
wasm = ROOT / "target" / "wasm32-wasip1" / "release" / "datagate_filter.wasm"
with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
    f.write(bootstrap.replace("/etc/datagate/wasm/datagate_filter.wasm", str(wasm)))
    f.flush()
    run = subprocess.run(
        [str(VENV / "envoy"), "--mode", "validate", "--disable-hot-restart", "--log-level", "error", "-c", f.name],
        capture_output=True,
        text=True,
    )
    check(run.returncode == 0, f"the ConfigMap's Envoy bootstrap is invalid: {run.stdout[-2000:]}{run.stderr[-2000:]}")

objects = {(d["kind"], d["metadata"]["name"]): d for p in k8s for d in docs(p)}
sidecar = objects[("Deployment", "datagate-sidecar")]["spec"]["template"]["spec"]["containers"][0]
check(
    sidecar["readinessProbe"]["grpc"].get("service") == health_service,
    f"the sidecar's readiness probe must ask for {health_service} (the service Envoy health-checks)",
)
# Only Envoy reaches the sidecar (it trusts the tenant inside each ext_proc message).
policy = objects.get(("NetworkPolicy", "datagate-sidecar"), {}).get("spec", {})
envoy_labels = objects[("Deployment", "datagate-envoy")]["spec"]["template"]["metadata"]["labels"]
sidecar_labels = objects[("Deployment", "datagate-sidecar")]["spec"]["template"]["metadata"]["labels"]
check(
    policy.get("podSelector", {}).get("matchLabels") == sidecar_labels
    and policy.get("policyTypes") == ["Ingress"]
    and [f.get("podSelector", {}).get("matchLabels") for r in policy.get("ingress", []) for f in r.get("from", [])]
    == [envoy_labels],
    "a NetworkPolicy must admit only the Envoy pods to the sidecar pods",
)
service = objects[("Service", "datagate-sidecar")]["spec"]
check(service.get("clusterIP") == "None", "the sidecar Service must be headless (Envoy balances over its pods)")
check(
    "datagate-sidecar.datagate.svc.cluster.local, port_value: 50051" in bootstrap,
    "the ConfigMap's sidecar cluster must resolve the sidecar Service on port 50051",
)

# --- envoy-gateway/ ----------------------------------------------------------
eg = {d["kind"]: d for d in docs(HERE / "envoy-gateway" / "datagate.yaml")}
route = eg["HTTPRoute"]
prefixes = sorted(m["path"]["value"] for rule in route["spec"]["rules"] for m in rule["matches"])
check(prefixes == datagate_paths, f"envoy-gateway HTTPRoute paths {prefixes} != Datagate's {datagate_paths}")
policy = eg["EnvoyExtensionPolicy"]["spec"]
check(
    policy["targetRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "datagate"}],
    "the EnvoyExtensionPolicy must target the datagate HTTPRoute only",
)
check(policy["wasm"][0]["rootID"] == edge["root_id"], "envoy-gateway wasm rootID differs from the shipped filter's")
check(policy["wasm"][0]["config"] == edge_config, "envoy-gateway wasm config differs from envoy/fragments/http-filters.yaml")
check(policy["wasm"][0].get("failOpen") is False, "envoy-gateway wasm must fail closed")
proc = policy["extProc"][0]
check(
    proc["backendRefs"] == [{"name": "datagate-sidecar", "namespace": "datagate", "port": 50051}],
    "envoy-gateway extProc must call the datagate-sidecar Service on port 50051",
)
check(proc.get("failOpen") is False, "envoy-gateway extProc must fail closed")
check(proc["processingMode"] == {"request": {"body": "Buffered"}}, "envoy-gateway extProc must buffer request bodies")

# --- istio/ ------------------------------------------------------------------
istio = {d["kind"]: d for d in docs(HERE / "istio" / "datagate.yaml")}
plugin = istio["WasmPlugin"]["spec"]
check(plugin["pluginName"] == edge["root_id"], "istio WasmPlugin pluginName differs from the shipped root id")
check(plugin["pluginConfig"] == edge_config, "istio WasmPlugin pluginConfig differs from envoy/fragments/http-filters.yaml")
check(plugin.get("failStrategy") == "FAIL_CLOSE", "istio WasmPlugin must fail closed")
patch = istio["EnvoyFilter"]["spec"]["configPatches"][0]
check(patch["match"]["context"] == "SIDECAR_INBOUND", "istio EnvoyFilter must patch the inbound listener")
value = patch["patch"]["value"]
check(value["name"] == "envoy.filters.http.ext_proc", "istio EnvoyFilter must insert ext_proc")
typed = value["typed_config"]
for key in ("processing_mode", "failure_mode_allow", "message_timeout", "status_on_error"):
    check(typed.get(key) == ext_proc.get(key), f"istio ext_proc {key} differs from envoy/fragments/http-filters.yaml")
check(
    typed["grpc_service"]["envoy_grpc"]["cluster_name"] == "outbound|50051||datagate-sidecar.datagate.svc.cluster.local",
    "istio ext_proc must call the datagate-sidecar Service on port 50051",
)
check(
    istio["DestinationRule"]["spec"]["host"] == "datagate-sidecar.datagate.svc.cluster.local",
    "istio DestinationRule must target the sidecar Service",
)

for kind, d in [*objects.items(), *eg.items(), *istio.items()]:
    check(d["metadata"].get("namespace", "datagate") == "datagate", f"{kind} is not in the datagate namespace")

if problems:
    print("deployment examples: FAIL")
    for p in problems:
        print(f"  - {p}")
    sys.exit(1)
print(f"deployment examples: ok ({len(objects)} Kubernetes objects validated, {len(eg) + len(istio)} CRD objects checked)")
