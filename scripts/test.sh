#!/usr/bin/env bash
# Sets up and runs every test: formatting and lints, unit tests, component
# tests against real PostgreSQL and SQLite, Envoy config validation, and the
# end-to-end tests through a real Envoy with the real .wasm and sidecar.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
start=$(date +%s)

scripts/setup.sh --for-tests

say "formatting and lints"
cargo fmt --all -- --check
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo clippy --locked -p datagate-filter --target wasm32-wasip1 --release -- -D warnings

say "validating every Envoy config (envoy --mode validate)"
scripts/validate-envoy.sh

say "validating the deployment examples (examples/deploy)"
.venv/bin/python examples/deploy/check.py

say "building the sidecar the end-to-end tests start"
cargo build --locked -p datagate-ext-proc

say "unit, component and end-to-end tests"
cargo test --locked --workspace

say "all tests passed in $(( $(date +%s) - start )) s"
