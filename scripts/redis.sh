#!/usr/bin/env bash
# Makes sure a Redis server answers on 127.0.0.1:6379 (the global per-tenant
# limits' budgets, and their tests): uses a running one, starts an installed
# one, or installs one (Debian/Ubuntu: apt-get install redis-server).
set -euo pipefail
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
up() { (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; }
sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

up && exit 0

if ! command -v redis-server >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || { echo "error: no Redis on 127.0.0.1:6379 and no apt-get to install one" >&2; exit 1; }
  say "installing Redis (apt-get install redis-server)"
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
up && exit 0  # the package's service may have started it
say "starting Redis on 127.0.0.1:6379"
# Loopback only, no persistence: budgets are short-lived and rebuilt from the plans.
redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no --daemonize yes >/dev/null
for _ in $(seq 1 50); do up && exit 0; sleep 0.2; done
echo "error: Redis did not come up on 127.0.0.1:6379" >&2
exit 1
