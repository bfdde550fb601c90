#!/usr/bin/env bash
# Builds pgdblink in release mode and installs the C library, the way
# `make install` would:
#
#   $DESTDIR$PREFIX/lib/libpgdblink.so.X.Y.Z       the shared library
#   $DESTDIR$PREFIX/lib/libpgdblink.so.X           -> libpgdblink.so.X.Y.Z (its SONAME)
#   $DESTDIR$PREFIX/lib/libpgdblink.so             -> libpgdblink.so.X     (for -lpgdblink)
#   $DESTDIR$PREFIX/lib/libpgdblink.a              the static library
#   $DESTDIR$PREFIX/include/pgdblink.h             the header
#   $DESTDIR$PREFIX/lib/pkgconfig/pgdblink.pc      for pkg-config
#
# X.Y.Z is the version in Cargo.toml.
#
# Usage:
#   scripts/install.sh                        # PREFIX=/usr/local
#   PREFIX=$HOME/.local scripts/install.sh
#   scripts/install.sh --prefix /opt/pgdblink
#   DESTDIR=/tmp/stage scripts/install.sh --prefix /usr   # staged (packaging):
#       files land in /tmp/stage/usr/..., pgdblink.pc says prefix=/usr
# Options (each also read from the environment of the same name):
#   --prefix DIR       PREFIX      installation prefix (default /usr/local)
#   --libdir DIR       LIBDIR      libraries and pkgconfig/ (default PREFIX/lib)
#   --includedir DIR   INCLUDEDIR  the header (default PREFIX/include)
#   --destdir DIR      DESTDIR     staging root prepended to every path written
#
# Then: cc app.c $(pkg-config --cflags --libs pgdblink)
# (with PKG_CONFIG_PATH=PREFIX/lib/pkgconfig when PREFIX is not a default
# pkg-config location, and -Wl,-rpath,PREFIX/lib or ldconfig when PREFIX/lib
# is not in the loader's search path). Static linking:
#   cc app.c $(pkg-config --cflags pgdblink) PREFIX/lib/libpgdblink.a \
#      -Wl,--as-needed $(pkg-config --static --libs pgdblink)
#
# The build is scripts/build-c.sh --release (`cargo rustc --release --lib
# --features capi --crate-type cdylib --crate-type staticlib`), whose rustc
# note lists the system libraries the static library needs, which become
# Libs.private in pgdblink.pc. Needs what `cargo build` needs (a C compiler and OpenSSL
# headers for the bundled libpq; scripts/install-deps.sh installs them).
set -euo pipefail
CALLER_PWD=$PWD
cd "$(dirname "$0")/.."
ROOT=$PWD

usage() {
    sed -n '/^# Usage:/,/^# Then:/p' "$0" | sed 's/^# \{0,1\}//' | sed '$d' >&2
    exit 2
}

PREFIX=${PREFIX:-/usr/local}
LIBDIR=${LIBDIR:-}
INCLUDEDIR=${INCLUDEDIR:-}
DESTDIR=${DESTDIR:-}
while [ $# -gt 0 ]; do
    case $1 in
    --prefix) [ $# -ge 2 ] || usage; PREFIX=$2; shift 2 ;;
    --prefix=*) PREFIX=${1#*=}; shift ;;
    --libdir) [ $# -ge 2 ] || usage; LIBDIR=$2; shift 2 ;;
    --libdir=*) LIBDIR=${1#*=}; shift ;;
    --includedir) [ $# -ge 2 ] || usage; INCLUDEDIR=$2; shift 2 ;;
    --includedir=*) INCLUDEDIR=${1#*=}; shift ;;
    --destdir) [ $# -ge 2 ] || usage; DESTDIR=$2; shift 2 ;;
    --destdir=*) DESTDIR=${1#*=}; shift ;;
    -h | --help) usage ;;
    *) echo "install.sh: unknown argument: $1" >&2; usage ;;
    esac
done

absolute() { # relative paths are taken from the caller's working directory
    case $1 in
    /*) printf '%s' "${1%/}" ;;
    "") echo "install.sh: $2 is empty" >&2; exit 2 ;;
    *) printf '%s/%s' "$CALLER_PWD" "${1%/}" ;;
    esac
}
PREFIX=$(absolute "$PREFIX" PREFIX)
[ -n "$PREFIX" ] || PREFIX=/ # --prefix / (absolute strips the slash)
[ "$PREFIX" = / ] && base="" || base=$PREFIX
LIBDIR=$(absolute "${LIBDIR:-$base/lib}" LIBDIR)
INCLUDEDIR=$(absolute "${INCLUDEDIR:-$base/include}" INCLUDEDIR)
case $DESTDIR in
"" | /*) DESTDIR=${DESTDIR%/} ;;
*) DESTDIR=$CALLER_PWD/${DESTDIR%/} ;;
esac

# --- version and description from Cargo.toml ([package]) ------------------------
package_field() {
    awk -v key="$1" '
        /^\[/ { in_pkg = ($0 == "[package]") }
        in_pkg && $0 ~ "^" key "[ \t]*=" {
            sub("^[^=]*=[ \t]*\"", ""); sub("\"[ \t]*$", ""); print; exit
        }' Cargo.toml
}
VERSION=$(package_field version)
DESCRIPTION=$(package_field description)
case $VERSION in
[0-9]*.[0-9]*.[0-9]*) ;;
*) echo "install.sh: cannot read the version from Cargo.toml (got '$VERSION')" >&2; exit 1 ;;
esac
NUMERIC=${VERSION%%[-+]*} # 1.2.3-rc.1+build -> 1.2.3
MAJOR=${NUMERIC%%.*}

# --- build ----------------------------------------------------------------------
CARGO=${CARGO:-cargo}
LOG=$(mktemp "${TMPDIR:-/tmp}/pgdblink-install.XXXXXX")
trap 'rm -f "$LOG"' EXIT
echo "install.sh: building pgdblink $VERSION (release)" >&2
# stderr is shown and kept: rustc's note (replayed by cargo when the build is
# already fresh) carries the native libraries.
{ CARGO="$CARGO" "$ROOT/scripts/build-c.sh" --release 2>&1 1>&3 | tee "$LOG" >&2; } 3>&1
NATIVE_LIBS=$(sed 's/\x1b\[[0-9;]*m//g' "$LOG" | sed -n 's/^note: native-static-libs: //p' | tail -n 1)
if [ -z "$NATIVE_LIBS" ]; then
    echo "install.sh: rustc did not print the static library's native libraries" >&2
    exit 1
fi

TARGET_DIR=$("$CARGO" metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
BUILT=${TARGET_DIR:-$ROOT/target}/release
for f in libpgdblink.so libpgdblink.a; do
    [ -f "$BUILT/$f" ] || { echo "install.sh: $BUILT/$f was not built" >&2; exit 1; }
done
HEADER=$ROOT/include/pgdblink.h
[ -f "$HEADER" ] || { echo "install.sh: $HEADER is missing" >&2; exit 1; }

# The SONAME the library carries (build.rs sets it); the symlink of that name
# is what programs linked against it load at run time.
SONAME=""
if command -v readelf >/dev/null 2>&1; then
    SONAME=$(readelf -d "$BUILT/libpgdblink.so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
elif command -v objdump >/dev/null 2>&1; then
    SONAME=$(objdump -p "$BUILT/libpgdblink.so" | awk '$1 == "SONAME" { print $2 }')
fi
if [ -z "$SONAME" ]; then
    SONAME=libpgdblink.so.$MAJOR
    echo "install.sh: warning: the built libpgdblink.so has no SONAME (or readelf is" \
        "missing); programs linked against it will look for libpgdblink.so, not $SONAME" >&2
elif [ "$SONAME" != "libpgdblink.so.$MAJOR" ]; then
    echo "install.sh: note: SONAME is $SONAME (version $VERSION)" >&2
fi
REAL=libpgdblink.so.$NUMERIC

# --- install --------------------------------------------------------------------
D_LIB=$DESTDIR$LIBDIR
D_INC=$DESTDIR$INCLUDEDIR
D_PC=$D_LIB/pkgconfig
install -d "$D_LIB" "$D_INC" "$D_PC"
install -m 0755 "$BUILT/libpgdblink.so" "$D_LIB/$REAL"
if [ "$SONAME" != "$REAL" ]; then
    ln -sfn "$REAL" "$D_LIB/$SONAME"
fi
ln -sfn "$SONAME" "$D_LIB/libpgdblink.so"
install -m 0644 "$BUILT/libpgdblink.a" "$D_LIB/libpgdblink.a"
install -m 0644 "$HEADER" "$D_INC/pgdblink.h"

# Paths below the prefix are written relative to ${prefix}, so that the .pc
# stays right when the tree is relocated with pkg-config --define-prefix.
pc_path() {
    if [ -n "$base" ] && [ "${1#"$base"/}" != "$1" ]; then
        printf '${prefix}/%s' "${1#"$base"/}"
    else
        printf '%s' "$1"
    fi
}
PC_TMP=$D_PC/.pgdblink.pc.tmp
cat >"$PC_TMP" <<EOF
prefix=$PREFIX
exec_prefix=\${prefix}
libdir=$(pc_path "$LIBDIR")
includedir=$(pc_path "$INCLUDEDIR")

Name: pgdblink
Description: $DESCRIPTION
Version: $VERSION
Cflags: -I\${includedir}
Libs: -L\${libdir} -lpgdblink
Libs.private: $NATIVE_LIBS
EOF
chmod 0644 "$PC_TMP"
mv -f "$PC_TMP" "$D_PC/pgdblink.pc"

echo "install.sh: installed pgdblink $VERSION into $DESTDIR$PREFIX:" >&2
for f in "$D_LIB/$REAL" "$D_LIB/$SONAME" "$D_LIB/libpgdblink.so" "$D_LIB/libpgdblink.a" \
    "$D_INC/pgdblink.h" "$D_PC/pgdblink.pc"; do
    if [ -L "$f" ]; then
        echo "  $f -> $(readlink "$f")" >&2
    else
        echo "  $f" >&2
    fi
done
