#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 for the tests:
# uses a running one, starts an installed one, or installs one (Debian/Ubuntu).
# Only a server this script installed gets trust auth for 127.0.0.1; an
# existing server's configuration is never touched.
set -euo pipefail
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

up && exit 0

installed_here=no
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || { echo "error: no PostgreSQL on 127.0.0.1:5432 and no apt-get to install one" >&2; exit 1; }
  say "installing PostgreSQL (apt-get install postgresql)"
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  installed_here=yes
fi

version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
if [ -z "$version" ]; then
  say "creating a PostgreSQL cluster"
  version=$(ls /usr/lib/postgresql | sort -V | tail -n1)
  sudo_ pg_createcluster "$version" main
  installed_here=yes
fi
if [ "$installed_here" = yes ]; then
  hba=/etc/postgresql/$version/main/pg_hba.conf
  # Local development database for tests: trust loopback TCP and the Unix socket
  # (tests/e2e/transport.rs connects as postgres over it), like the CI machines.
  sudo_ sed -i -e '1i host all all 127.0.0.1/32 trust' -e '1i local all all trust' "$hba"
fi
say "starting PostgreSQL $version"
sudo_ pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
for _ in $(seq 1 50); do up && exit 0; sleep 0.2; done
echo "error: PostgreSQL did not come up on 127.0.0.1:5432" >&2
exit 1
