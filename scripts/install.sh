#!/usr/bin/env bash
# Builds pgdblink in release mode and installs the C library, the way
# `make install` would:
#
#   LIBDIR/libpgdblink.so.X.Y.Z          the shared library
#   LIBDIR/libpgdblink.so.0.Y            -> libpgdblink.so.X.Y.Z (its SONAME; from
#                                        1.0: libpgdblink.so.X)
#   LIBDIR/libpgdblink.so                -> the SONAME link (for -lpgdblink)
#   LIBDIR/libpgdblink.a                 the static library
#   LIBDIR/pkgconfig/pgdblink.pc         for pkg-config
#   INCLUDEDIR/pgdblink.h                the header
#   MANDIR/man3/pgdblink.3, <function>.3 the C reference (scripts/c-reference.sh)
#   DOCDIR/LICENSE-MIT, LICENSE-APACHE, LICENSE-PostgreSQL (the bundled
#                                        libpq's), CHANGELOG.md
#
# each below $DESTDIR. X.Y.Z is the version in Cargo.toml.
#
# Usage:
#   scripts/install.sh                        # PREFIX=/usr/local
#   PREFIX=$HOME/.local scripts/install.sh
#   scripts/install.sh --prefix /opt/pgdblink
#   DESTDIR=/tmp/stage scripts/install.sh --prefix /usr   # staged (packaging):
#       files land in /tmp/stage/usr/..., pgdblink.pc says prefix=/usr
#   scripts/install.sh --no-default-features --features system-libpq
#       # links the system libpq instead of bundling libpq 18
#   scripts/install.sh --no-build             # installs what build-c.sh --release built
# Options (those with a variable are also read from the environment):
#   --prefix DIR       PREFIX      installation prefix (default /usr/local)
#   --libdir DIR       LIBDIR      libraries and pkgconfig/ (default PREFIX/lib;
#                                  with PREFIX /usr on a multiarch system such as
#                                  Debian: /usr/lib/<triplet>, e.g. x86_64-linux-gnu)
#   --includedir DIR   INCLUDEDIR  the header (default PREFIX/include)
#   --mandir DIR       MANDIR      man pages (default PREFIX/share/man)
#   --docdir DIR       DOCDIR      licences, changelog (default PREFIX/share/doc/pgdblink)
#   --destdir DIR      DESTDIR     staging root prepended to every path written
#   --features LIST                cargo features of the build (repeatable)
#   --no-default-features          build without the default `bundled` feature
#   --no-build                     install the libraries scripts/build-c.sh --release
#                                  (with its own features) built, from the target
#                                  directory (CARGO_TARGET_DIR, relative to the
#                                  checkout, or ./target)
#
# Then: cc app.c $(pkg-config --cflags --libs pgdblink)
# (with PKG_CONFIG_PATH=LIBDIR/pkgconfig when PREFIX is not a default
# pkg-config location, and -Wl,-rpath,LIBDIR or ldconfig when LIBDIR is not
# in the loader's search path). Static linking:
#   cc app.c $(pkg-config --cflags pgdblink) LIBDIR/libpgdblink.a \
#      -Wl,--as-needed $(pkg-config --static --libs pgdblink)
#
# The build is scripts/build-c.sh --release [--features ...], whose
# capi/native-static-libs.txt (rustc's list of the system libraries the
# static library needs) becomes Libs.private in pgdblink.pc. Needs what
# `cargo build` needs (a C compiler and OpenSSL headers for the bundled libpq),
# binutils, and python3 for the man pages (scripts/install-deps.sh installs them).
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
MANDIR=${MANDIR:-}
DOCDIR=${DOCDIR:-}
DESTDIR=${DESTDIR:-}
BUILD=1
FEATURE_ARGS=()
while [ $# -gt 0 ]; do
    case $1 in
    --prefix) [ $# -ge 2 ] || usage; PREFIX=$2; shift 2 ;;
    --prefix=*) PREFIX=${1#*=}; shift ;;
    --libdir) [ $# -ge 2 ] || usage; LIBDIR=$2; shift 2 ;;
    --libdir=*) LIBDIR=${1#*=}; shift ;;
    --includedir) [ $# -ge 2 ] || usage; INCLUDEDIR=$2; shift 2 ;;
    --includedir=*) INCLUDEDIR=${1#*=}; shift ;;
    --mandir) [ $# -ge 2 ] || usage; MANDIR=$2; shift 2 ;;
    --mandir=*) MANDIR=${1#*=}; shift ;;
    --docdir) [ $# -ge 2 ] || usage; DOCDIR=$2; shift 2 ;;
    --docdir=*) DOCDIR=${1#*=}; shift ;;
    --destdir) [ $# -ge 2 ] || usage; DESTDIR=$2; shift 2 ;;
    --destdir=*) DESTDIR=${1#*=}; shift ;;
    --features) [ $# -ge 2 ] || usage; FEATURE_ARGS+=(--features "$2"); shift 2 ;;
    --features=*) FEATURE_ARGS+=(--features "${1#*=}"); shift ;;
    --no-default-features) FEATURE_ARGS+=(--no-default-features); shift ;;
    --no-build) BUILD=0; shift ;;
    -h | --help) usage ;;
    *) echo "install.sh: unknown argument: $1" >&2; usage ;;
    esac
done
if [ "$BUILD" = 0 ] && [ ${#FEATURE_ARGS[@]} -gt 0 ]; then
    echo "install.sh: --no-build installs what was built; choose the features when building" \
        "(scripts/build-c.sh --release ${FEATURE_ARGS[*]})" >&2
    exit 2
fi

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

# The multiarch triplet (Debian, Ubuntu: x86_64-linux-gnu), where the system
# keeps its libraries in /usr/lib/<triplet>; empty elsewhere.
multiarch() {
    local ma=""
    if command -v dpkg-architecture >/dev/null 2>&1; then
        ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || true)
    fi
    if [ -z "$ma" ] && command -v gcc >/dev/null 2>&1; then
        ma=$(gcc -print-multiarch 2>/dev/null || true)
    fi
    if [ -n "$ma" ] && [ -d "/usr/lib/$ma" ]; then
        printf '%s' "$ma"
    fi
}
if [ -z "$LIBDIR" ]; then
    LIBDIR=$base/lib
    if [ "$PREFIX" = /usr ]; then
        MULTIARCH=$(multiarch)
        [ -z "$MULTIARCH" ] || LIBDIR=$base/lib/$MULTIARCH
    fi
fi
LIBDIR=$(absolute "$LIBDIR" LIBDIR)
INCLUDEDIR=$(absolute "${INCLUDEDIR:-$base/include}" INCLUDEDIR)
MANDIR=$(absolute "${MANDIR:-$base/share/man}" MANDIR)
DOCDIR=$(absolute "${DOCDIR:-$base/share/doc/pgdblink}" DOCDIR)
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
SONAME=$("$ROOT/scripts/build-c.sh" --print-soname)
REAL=libpgdblink.so.$NUMERIC

# --- build ----------------------------------------------------------------------
CARGO=${CARGO:-cargo}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pgdblink-install.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
if [ "$BUILD" = 1 ]; then
    echo "install.sh: building pgdblink $VERSION (release${FEATURE_ARGS[*]:+, ${FEATURE_ARGS[*]}})" >&2
    CARGO="$CARGO" "$ROOT/scripts/build-c.sh" --release "${FEATURE_ARGS[@]}"
fi

# cargo's target directory (CARGO_TARGET_DIR, relative to the checkout as
# build-c.sh runs cargo there; else ./target).
TARGET_DIR=$("$CARGO" metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
BUILT=${TARGET_DIR:-$ROOT/target}/release
for f in libpgdblink.so libpgdblink.a capi/native-static-libs.txt capi/exports.txt; do
    [ -f "$BUILT/$f" ] || {
        echo "install.sh: $BUILT/$f is missing: scripts/build-c.sh --release builds it" \
            "(or run install.sh without --no-build)" >&2
        exit 1
    }
done
HEADER=$ROOT/include/pgdblink.h
[ -f "$HEADER" ] || { echo "install.sh: $HEADER is missing" >&2; exit 1; }
# The libraries must be those of this header (and of this version).
if [ "$("$ROOT/scripts/build-c.sh" --print-exports)" != "$(cat "$BUILT/capi/exports.txt")" ]; then
    echo "install.sh: $BUILT was built from another include/pgdblink.h: rebuild it" \
        "(scripts/build-c.sh --release, or install.sh without --no-build)" >&2
    exit 1
fi
if command -v readelf >/dev/null 2>&1; then
    BUILT_SONAME=$(readelf -d "$BUILT/libpgdblink.so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
else
    BUILT_SONAME=$(objdump -p "$BUILT/libpgdblink.so" | awk '$1 == "SONAME" { print $2 }')
fi
if [ "$BUILT_SONAME" != "$SONAME" ]; then
    echo "install.sh: $BUILT/libpgdblink.so has the SONAME '$BUILT_SONAME', not $SONAME" \
        "(version $VERSION): rebuild it with scripts/build-c.sh --release" >&2
    exit 1
fi
NATIVE_LIBS=$(cat "$BUILT/capi/native-static-libs.txt")

# The C reference, from the header's doc comments.
"$ROOT/scripts/c-reference.sh" --out "$WORK/reference"

# --- install --------------------------------------------------------------------
D_LIB=$DESTDIR$LIBDIR
D_INC=$DESTDIR$INCLUDEDIR
D_PC=$D_LIB/pkgconfig
D_MAN=$DESTDIR$MANDIR/man3
D_DOC=$DESTDIR$DOCDIR
install -d "$D_LIB" "$D_INC" "$D_PC" "$D_MAN" "$D_DOC"
install -m 0755 "$BUILT/libpgdblink.so" "$D_LIB/$REAL"
if [ "$SONAME" != "$REAL" ]; then
    ln -sfn "$REAL" "$D_LIB/$SONAME"
fi
ln -sfn "$SONAME" "$D_LIB/libpgdblink.so"
install -m 0644 "$BUILT/libpgdblink.a" "$D_LIB/libpgdblink.a"
install -m 0644 "$HEADER" "$D_INC/pgdblink.h"
install -m 0644 "$WORK/reference/man3/"*.3 "$D_MAN/"
install -m 0644 LICENSE-MIT LICENSE-APACHE LICENSE-PostgreSQL CHANGELOG.md "$D_DOC/"

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

echo "install.sh: installed pgdblink $VERSION into ${DESTDIR:-}$PREFIX:" >&2
for f in "$D_LIB/$REAL" "$D_LIB/$SONAME" "$D_LIB/libpgdblink.so" "$D_LIB/libpgdblink.a" \
    "$D_PC/pgdblink.pc" "$D_INC/pgdblink.h" "$D_MAN/pgdblink.3" "$D_DOC"; do
    if [ -L "$f" ]; then
        echo "  $f -> $(readlink "$f")" >&2
    else
        echo "  $f" >&2
    fi
done
echo "  ($(find "$D_MAN" -name '*.3' | wc -l) man pages in $D_MAN)" >&2
