#!/usr/bin/env bash
# Installs what pgdblink's build, tests and demo need on a fresh Debian/Ubuntu
# machine, and nothing that is already there: a C compiler, binutils and
# OpenSSL headers (bundled libpq, scripts/build-c.sh), PostgreSQL server
# binaries with contrib (throwaway test servers, the dblink oracle), valgrind
# (C tests), the system libpq's headers (libpq-dev: the packaging test's C
# host that uses its own libpq beside pgdblink, and the system-libpq build),
# python3 and groff (scripts/c-reference.sh, the man pages); with --bench,
# strace.
set -euo pipefail

missing=()
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
command -v objcopy >/dev/null 2>&1 || missing+=(binutils)
[ -f /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
ls /usr/share/postgresql/*/extension/dblink.control >/dev/null 2>&1 || missing+=(postgresql-contrib)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# tests/c_abi.rs runs examples/python/fanout.py and compiles the header as
# C++; tests/packaging.rs links a host with the system libpq beside pgdblink;
# scripts/c-reference.sh renders man pages with groff.
[ -f /usr/include/postgresql/libpq-fe.h ] || missing+=(libpq-dev)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v groff >/dev/null 2>&1 || missing+=(groff-base)
# --with-libpq-dev: accepted for older callers (libpq-dev is in the default
# list now; the default bundled build itself does not need it).
# --bench: also strace (scripts/bench.sh: the fanout_n workload counts the
# system calls of its gathers with `strace -c`).
for arg in "$@"; do
  case "$arg" in
    --with-libpq-dev) ;;
    --bench) command -v strace >/dev/null 2>&1 || missing+=(strace) ;;
    *) echo "install-deps: unknown option $arg" >&2; exit 2 ;;
  esac
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || {
    echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
