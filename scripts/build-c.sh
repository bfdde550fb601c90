#!/usr/bin/env bash
# Builds the C libraries, libpgdblink.so (with its SONAME) and libpgdblink.a,
# from the crate with the `capi` feature (Rust users of the crate get the
# rlib alone, without the C ABI):
#
#   scripts/build-c.sh                  target/debug/libpgdblink.{so,a}
#   scripts/build-c.sh --release        target/release/...
#   scripts/build-c.sh --release --no-default-features --features system-libpq
#   scripts/build-c.sh --print-soname   prints the SONAME, builds nothing
#   scripts/build-c.sh --print-exports  prints the functions the libraries
#                                       export (those of the header), builds nothing
#
# Extra arguments go to `cargo rustc` before its `--`. What it leaves beside
# the libraries, in target/<profile>/:
#
#   libpgdblink.so.0.1 -> libpgdblink.so   the SONAME link, so that a program
#       linked in the build tree (-Ltarget/<profile> -lpgdblink
#       -Wl,-rpath,...) runs without an install
#   capi/native-static-libs.txt   the system libraries the static library
#       needs (rustc's `native-static-libs` note; scripts/install.sh writes
#       them into pgdblink.pc)
#   capi/exports.txt              the functions both libraries export
#   capi/libpgdblink.full.a       the archive as rustc made it (every Rust,
#       std and libpq symbol global); not for linking programs
#
# The SONAME: libpgdblink.so.0.MINOR while the version is 0.x (each 0.MINOR
# may break the ABI), libpgdblink.so.MAJOR from 1.0 (CHANGELOG.md, "ABI
# policy").
#
# Exports: both libraries export the functions of include/pgdblink.h and
# nothing else. rustc's version script already limits the .so to them; the
# archive rustc makes defines over a thousand global symbols (Rust's std, the
# bundled libpq's PQ* functions, which would collide with the host's own
# libpq), so it is rebuilt here: a relocatable link (ld -r) of the members
# the API needs into one object, whose other symbols objcopy makes local.
# Needs binutils (ld, objcopy, ar, nm; $LD, $OBJCOPY, $AR, $NM override them).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
NUMERIC=${VERSION%%[-+]*} # 1.2.3-rc.1+build -> 1.2.3
MAJOR=${NUMERIC%%.*}
MINOR=${NUMERIC#*.}
MINOR=${MINOR%%.*}
case $MAJOR.$MINOR in
[0-9]*.[0-9]*) ;;
*) echo "build-c.sh: cannot read the version from Cargo.toml (got '$VERSION')" >&2; exit 1 ;;
esac
if [ "$MAJOR" = 0 ]; then
    SONAME=libpgdblink.so.0.$MINOR
else
    SONAME=libpgdblink.so.$MAJOR
fi
case ${1:-} in
--print-soname) echo "$SONAME"; exit 0 ;;
--print-exports) PRINT_EXPORTS=1 ;;
*) PRINT_EXPORTS=0 ;;
esac

# The API: the functions include/pgdblink.h declares (an identifier followed
# by `(` on a line that is not a comment, as tests/c_abi.rs reads it).
exports() {
    grep -v -E '^[[:space:]]*(\*|/\*|//|#)' include/pgdblink.h |
        grep -o -E '\bdblink[A-Za-z0-9_]*[[:space:]]*\(' |
        sed 's/[[:space:]]*($//' | LC_ALL=C sort -u
}
EXPORTS=$(exports)
[ -n "$EXPORTS" ] || { echo "build-c.sh: no function found in include/pgdblink.h" >&2; exit 1; }
if [ "$PRINT_EXPORTS" = 1 ]; then
    printf '%s\n' "$EXPORTS"
    exit 0
fi

LD=${LD:-ld}
OBJCOPY=${OBJCOPY:-objcopy}
AR=${AR:-ar}
NM=${NM:-nm}
for tool in "$LD" "$OBJCOPY" "$AR" "$NM"; do
    command -v "$tool" >/dev/null 2>&1 ||
        { echo "build-c.sh: $tool not found (binutils: scripts/install-deps.sh installs it)" >&2; exit 1; }
done

# One build-c.sh at a time per checkout: cargo re-links target/<profile>/
# libpgdblink.a on every run, and the rewrite below must not interleave.
LOCK=${TMPDIR:-/tmp}/pgdblink-build-c.$(id -u).$(printf '%s' "$ROOT" | cksum | cut -d ' ' -f 1).lock
if command -v flock >/dev/null 2>&1; then
    exec 9>"$LOCK"
    flock 9
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pgdblink-build-c.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# cargo's JSON messages (stdout) name the files it made; its rendered
# diagnostics, rustc's native-static-libs note among them, go to stderr,
# shown and kept.
{
    "${CARGO:-cargo}" rustc --lib --features capi --crate-type cdylib --crate-type staticlib \
        --message-format=json-render-diagnostics "$@" \
        -- --print native-static-libs -C "link-arg=-Wl,-soname,$SONAME" \
        2>&1 1>&3 | tee "$WORK/stderr" >&2
} 3>"$WORK/messages"

artifacts=$(grep '"reason":"compiler-artifact"' "$WORK/messages" |
    grep '"crate_types":\[[^]]*"cdylib"' | grep '"crate_types":\[[^]]*"staticlib"' |
    sed -n 's/.*"filenames":\[\([^]]*\)\].*/\1/p' | tr ',' '\n' | tr -d '"' || true)
SO=$(printf '%s\n' "$artifacts" | grep '/libpgdblink\.so$' | tail -n 1 || true)
A=$(printf '%s\n' "$artifacts" | grep '/libpgdblink\.a$' | tail -n 1 || true)
if [ -z "$SO" ] || [ -z "$A" ] || [ ! -f "$SO" ] || [ ! -f "$A" ]; then
    echo "build-c.sh: cargo reported no libpgdblink.so and libpgdblink.a (got: $artifacts)" >&2
    exit 1
fi
OUT=$(dirname "$SO")
CAPI=$OUT/capi
mkdir -p "$CAPI"

NATIVE=$(sed 's/\x1b\[[0-9;]*m//g' "$WORK/stderr" | sed -n 's/^note: native-static-libs: //p' | tail -n 1)
if [ -z "$NATIVE" ]; then
    echo "build-c.sh: rustc did not print the static library's native libraries" >&2
    exit 1
fi

# --- libpgdblink.a: the API's members in one object, only the API global ----
# The archive cargo placed (a fresh hard link of its deps/ copy) is kept as
# capi/libpgdblink.full.a; the public one replaces it by rename, so the deps/
# copy stays as rustc made it. `ld -r -u <each function>` pulls exactly the
# members a program's link would pull, so what the object still needs is
# what the archive's users link already (native-static-libs). The embedded
# LLVM bitcode of std's objects (.llvmbc/.llvmcmd, unused by a C link) is
# dropped: ld -r concatenates it into one invalid blob, which LLVM's linker
# plugin, where installed, would choke on.
rm -f "$CAPI/exports.txt" "$CAPI/native-static-libs.txt" # written once all is checked
cp -f "$A" "$CAPI/libpgdblink.full.a"
printf '%s\n' "$EXPORTS" >"$WORK/exports.txt"
undefined=()
while IFS= read -r f; do undefined+=(-u "$f"); done <<<"$EXPORTS"
"$LD" -r -z noexecstack "${undefined[@]}" "$CAPI/libpgdblink.full.a" -o "$WORK/linked.o"
"$OBJCOPY" --remove-section=.llvmbc --remove-section=.llvmcmd \
    --keep-global-symbols="$WORK/exports.txt" "$WORK/linked.o" "$WORK/pgdblink.o"
rm -f "$WORK/libpgdblink.a"
"$AR" rcs "$WORK/libpgdblink.a" "$WORK/pgdblink.o"
mv -f "$WORK/libpgdblink.a" "$OUT/.libpgdblink.a.tmp"
mv -f "$OUT/.libpgdblink.a.tmp" "$A"

# Check: the archive defines exactly the header's functions as globals, and
# the .so exports them (and, unless the header is stale, nothing else).
defined() { "$NM" "$@" 2>/dev/null | awk 'NF == 3 && $2 ~ /^[A-Z]$/ && $2 != "U" { print $3 }' | LC_ALL=C sort -u; }
archive_globals=$(defined -g --defined-only "$A")
if [ "$archive_globals" != "$EXPORTS" ]; then
    echo "build-c.sh: $A should define exactly the functions of include/pgdblink.h; differences" \
        "(< header, > archive):" >&2
    diff <(printf '%s\n' "$EXPORTS") <(printf '%s\n' "$archive_globals") >&2 || true
    exit 1
fi
so_exports=$(defined -D --defined-only "$SO")
missing=$(LC_ALL=C comm -23 <(printf '%s\n' "$EXPORTS") <(printf '%s\n' "$so_exports"))
extra=$(LC_ALL=C comm -13 <(printf '%s\n' "$EXPORTS") <(printf '%s\n' "$so_exports"))
if [ -n "$missing" ]; then
    echo "build-c.sh: $SO does not export these functions of include/pgdblink.h:" $missing >&2
    exit 1
fi
if [ -n "$extra" ]; then
    echo "build-c.sh: warning: $SO exports functions include/pgdblink.h does not declare" \
        "(is the header stale? PGDBLINK_BLESS=1 cargo test --test header):" $extra >&2
fi

# --- the SONAME link, for programs linked in the build tree ------------------
for link in "$OUT"/libpgdblink.so.*; do # links of an earlier SONAME
    if [ -L "$link" ] && [ "$(readlink "$link")" = libpgdblink.so ] && [ "$link" != "$OUT/$SONAME" ]; then
        rm -f "$link"
    fi
done
ln -sfn libpgdblink.so "$OUT/$SONAME"

# What scripts/install.sh --no-build reads: the API this build exports, and
# the native libraries of its archive.
printf '%s\n' "$EXPORTS" >"$CAPI/exports.txt"
printf '%s\n' "$NATIVE" >"$CAPI/native-static-libs.txt"

echo "build-c.sh: $SO (SONAME $SONAME, link $OUT/$SONAME) and $A:" \
    "$(printf '%s\n' "$EXPORTS" | wc -l) functions exported" >&2
