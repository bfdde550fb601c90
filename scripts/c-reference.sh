#!/usr/bin/env bash
# The C API reference as man pages, generated from the doc comments of
# include/pgdblink.h (themselves generated from src/ffi/ by cbindgen, so the
# header, the pages and the Rust docs say the same thing):
#
#   scripts/c-reference.sh [--out DIR] [--lint] [--header FILE]
#
# writes DIR/man3/pgdblink.3 (conventions, every function with its summary,
# the types and constants) and DIR/man3/<function>.3 for each function of
# the header (default DIR: target/c-reference). It fails when a function of
# the header has no page or is missing from pgdblink.3; with --lint, also
# when groff warns about a page. Read one with `man -l DIR/man3/dblink_connect.3`;
# scripts/install.sh installs them into PREFIX/share/man/man3. Needs python3.
set -euo pipefail
export PGDBLINK_CALLER_PWD=$PWD # --out DIR is relative to the caller's directory
cd "$(dirname "$0")/.."
command -v python3 >/dev/null 2>&1 ||
    { echo "c-reference.sh: python3 is needed (scripts/install-deps.sh installs it)" >&2; exit 1; }
exec python3 - "$@" <<'PY'
import argparse
import os
import re
import shutil
import subprocess
import sys

ap = argparse.ArgumentParser(prog="c-reference.sh")
ap.add_argument("--out", default="target/c-reference")
ap.add_argument("--header", help="default: the checkout's include/pgdblink.h")
ap.add_argument("--lint", action="store_true", help="fail on groff warnings")
args = ap.parse_args()
CALLER = os.environ.get("PGDBLINK_CALLER_PWD", ".")
args.out = os.path.join(CALLER, args.out)
args.header = os.path.join(CALLER, args.header) if args.header else "include/pgdblink.h"


def die(msg):
    sys.stderr.write("c-reference.sh: %s\n" % msg)
    sys.exit(1)


def package_version():
    in_pkg = False
    with open("Cargo.toml") as f:
        for line in f:
            line = line.strip()
            if line.startswith("["):
                in_pkg = line == "[package]"
            elif in_pkg:
                m = re.match(r'version\s*=\s*"([^"]+)"', line)
                if m:
                    return m.group(1)
    die("no [package] version in Cargo.toml")


VERSION = package_version()
DATE = ""
if os.environ.get("SOURCE_DATE_EPOCH", "").isdigit():
    import time
    DATE = time.strftime("%Y-%m-%d", time.gmtime(int(os.environ["SOURCE_DATE_EPOCH"])))

# --- reading the header ----------------------------------------------------------


class Item:
    def __init__(self, kind, name, decl, doc):
        self.kind = kind  # function, macro, enum, struct, callback
        self.name = name
        self.decl = decl  # the declaration as the header writes it
        self.doc = doc  # the doc comment's lines, Markdown
        self.members = []  # enum: (name, value, doc)


def strip_comment(lines):
    """The text of a /** ... */ comment's lines, without the ` * ` margin
    (code examples keep their own indentation)."""
    out = []
    for raw in lines:
        t = raw.strip()
        if t in ("/**", "*/"):
            continue
        if t.startswith("/**"):
            t = t[3:]
            if t.endswith("*/"):
                t = t[:-2]
            out.append(t.strip())
            continue
        if t.endswith("*/"):
            t = t[:-2].rstrip()
        m = re.match(r"^\*(?: (.*))?$", t)
        if m:
            out.append((m.group(1) or "").rstrip())
        else:
            out.append(t)
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    return out


def read_header(path):
    with open(path) as f:
        lines = f.read().split("\n")
    items = []
    doc = None
    i = 0
    while i < len(lines):
        line = lines[i]
        s = line.strip()
        if s.startswith("/**"):
            block = []
            while True:
                block.append(lines[i])
                if lines[i].strip().endswith("*/"):
                    break
                i += 1
            doc = strip_comment(block)
            i += 1
            continue
        if s.startswith("/*"):  # not a doc comment: skipped whole
            while "*/" not in lines[i]:
                i += 1
            i += 1
            continue
        if s.startswith("//") or not s:
            i += 1
            continue
        if s.startswith("#define"):
            m = re.match(r"#define\s+([A-Za-z_][A-Za-z0-9_]*)(.*)$", s)
            if m and m.group(1) != "PGDBLINK_H":
                items.append(Item("macro", m.group(1), s, doc or []))
            doc = None
            i += 1
            continue
        if s.startswith("#") or s.startswith("extern \"C\"") or s.startswith("}"):
            doc = None
            i += 1
            continue
        if s.startswith("typedef enum"):
            name = None
            members = []
            mdoc = None
            i += 1
            while i < len(lines):
                t = lines[i].strip()
                if t.startswith("/**"):
                    block = []
                    while True:
                        block.append(lines[i])
                        if lines[i].strip().endswith("*/"):
                            break
                        i += 1
                    mdoc = strip_comment(block)
                elif t.startswith("}"):
                    name = t.strip("} ;")
                    break
                elif t:
                    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=\s*([^,]+))?,?", t)
                    if m:
                        members.append((m.group(1), (m.group(2) or "").strip(), mdoc or []))
                    mdoc = None
                i += 1
            it = Item("enum", name, "typedef enum %s { ... } %s;" % (name, name), doc or [])
            it.members = members
            items.append(it)
            doc = None
            i += 1
            continue
        # A declaration: up to its `;`.
        decl = [line.rstrip()]
        while not decl[-1].rstrip().endswith(";") and i + 1 < len(lines):
            i += 1
            decl.append(lines[i].rstrip())
        text = "\n".join(decl)
        flat = " ".join(d.strip() for d in decl)
        m = re.match(r"typedef\s+struct\s+(\w+)\s+(\w+)\s*;", flat)
        if m:
            items.append(Item("struct", m.group(2), flat, doc or []))
        elif flat.startswith("typedef"):
            m = re.search(r"\(\s*\*\s*(\w+)\s*\)", flat)
            if m:
                items.append(Item("callback", m.group(1), text, doc or []))
        else:
            m = re.search(r"(\w+)\s*\(", flat)
            if m and m.group(1).startswith("dblink"):
                items.append(Item("function", m.group(1), text, doc or []))
        doc = None
        i += 1
    return items


ITEMS = read_header(args.header)
FUNCS = [it for it in ITEMS if it.kind == "function"]
if not FUNCS:
    die("no function found in %s" % args.header)
FUNC_NAMES = {f.name for f in FUNCS}

# --- Markdown (as the doc comments write it) to roff ----------------------------


def esc(text):
    """Escapes text for roff (not at the start of a line: see line())."""
    return text.replace("\\", "\\e")


def inline(text):
    out = []
    for part in re.split(r"(`[^`]*`)", text):
        if part.startswith("`") and part.endswith("`") and len(part) >= 2:
            out.append("\\fB" + esc(part[1:-1]) + "\\fR")
        else:
            part = esc(part)
            part = re.sub(r"\*\*([^*]+)\*\*", r"\\fB\1\\fR", part)
            out.append(part)
    return "".join(out)


def line(text):
    """One output line: a leading . or ' would be a request."""
    if text.startswith(".") or text.startswith("'"):
        return "\\&" + text
    return text


def to_roff(doc, heading=".SH"):
    """Paragraphs, ``` fences, `# Heading`s and `- ` lists of a doc comment.
    Rust examples (```rust fences, and an "In Rust:" lead-in) are left out:
    this is the C reference."""
    out = []
    para = []
    bullet = []
    i = 0

    def flush():
        if para:
            out.append(".PP")
            out.append(line(inline(" ".join(p.strip() for p in para))))
            para.clear()
        if bullet:
            out.append(".IP \\(bu 2")
            out.append(line(inline(" ".join(p.strip() for p in bullet))))
            bullet.clear()

    while i < len(doc):
        d = doc[i]
        s = d.strip()
        if s.startswith("```"):
            flush()
            lang = s[3:].strip()
            body = []
            i += 1
            while i < len(doc) and not doc[i].strip().startswith("```"):
                body.append(doc[i])
                i += 1
            i += 1
            if lang.startswith("rust"):
                if out and out[-1] == "In Rust:":  # its lead-in paragraph too
                    out.pop()
                    out.pop()
                continue
            out.append(".PP")
            out.append(".in +4n")
            out.append(".EX")
            for b in body:
                out.append(line(esc(b)))
            out.append(".EE")
            out.append(".in")
            continue
        if not s:
            flush()
        elif re.match(r"^#+ ", s):
            flush()
            out.append("%s %s" % (heading, esc(s.lstrip("#").strip().upper())))
        elif s.startswith("- ") or s.startswith("* "):
            flush()
            bullet.append(s[2:])
        elif bullet:
            bullet.append(s)
        else:
            para.append(s)
        i += 1
    flush()
    # A ".PP" right after a heading is redundant.
    cleaned = []
    for o in out:
        if o == ".PP" and cleaned and cleaned[-1].startswith((".SH", ".SS")):
            continue
        cleaned.append(o)
    return cleaned


def summary(it):
    """The first sentence of a doc comment, for NAME and the index; a
    leading "`dblink_x(args)`: " (dblink's call shape) is left out."""
    text = []
    for d in it.doc:
        if not d.strip() or d.strip().startswith("```") or d.strip().startswith("#"):
            break
        text.append(d.strip())
    text = " ".join(text)
    text = re.sub(r"^`[^`]*`:\s*", "", text)
    # The end of the first sentence (or clause): ". " or "; " outside
    # parentheses and backticks (not the "." of "e.g.").
    depth, code = 0, False
    for k, c in enumerate(text):
        if c == "`":
            code = not code
        elif code:
            continue
        elif c == "(":
            depth += 1
        elif c == ")":
            depth = max(0, depth - 1)
        elif depth == 0 and c in ".;" and text[k + 1 : k + 2] in ("", " "):
            if c == "." and re.search(r"(e\.g|i\.e|etc)$", text[:k]):
                continue
            text = text[:k]
            break
    text = text.replace("`", "").strip()
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def mentioned_functions(it):
    names = []
    for name in re.findall(r"`(dblink\w*)", "\n".join(it.doc)):
        if name in FUNC_NAMES and name != it.name and name not in names:
            names.append(name)
    return names


def th(title):
    # Left-aligned and not hyphenated: identifiers stay whole.
    return '.TH %s 3 "%s" "pgdblink %s" "pgdblink C API"\n.nh\n.ad l' % (
        title.upper(), DATE, VERSION)


def synopsis(decl):
    out = [".nf", ".B #include <pgdblink.h>", ".PP"]
    for d in decl.split("\n"):
        out.append(line(esc(d)))
    out.append(".fi")
    return out


def function_page(f):
    out = [th(f.name), ".SH NAME", "%s \\- %s" % (f.name, esc(summary(f)) or "a pgdblink function")]
    out.append(".SH SYNOPSIS")
    out += synopsis(f.decl)
    out.append(".PP")
    out.append("Link with \\fB\\-lpgdblink\\fR (pkg-config: \\fBpgdblink\\fR).")
    out.append(".SH DESCRIPTION")
    body = to_roff(f.doc)
    if body and body[0] == ".PP":
        body = body[1:]
    out += body or ["Undocumented in the header."]
    out.append(".SH SEE ALSO")
    refs = ["pgdblink"] + mentioned_functions(f)
    out.append(",\n".join(".BR %s (3)" % r for r in refs))
    return "\n".join(out) + "\n"


CONVENTIONS = r"""
.SH CONVENTIONS
A \fIconnname\fR of NULL is dblink's unnamed connection.
Where dblink raises an ERROR, an \fBint\fR function returns \-1 and a pointer
function NULL, and
.BR dblink_last_error (3),
.BR dblink_last_sqlstate (3),
.BR dblink_last_detail (3),
.BR dblink_last_hint (3)
and
.BR dblink_last_context (3)
describe it (per thread, valid until that thread's next pgdblink call; a
successful call clears them).
Returned \fBchar *\fR are freed with
.BR dblink_free (3),
\fBchar **\fR with
.BR dblink_free_strings (3),
results with
.BR dblink_result_free (3).
No panic crosses the boundary: an internal failure is the ERROR
\fBinternal error: ...\fR (XX000).
Every function may be called from any thread.
""".strip("\n").split("\n")


def overview_page():
    out = [th("pgdblink"), ".SH NAME", "pgdblink \\- PostgreSQL's dblink API for C programs"]
    out += [".SH SYNOPSIS", ".nf", ".B #include <pgdblink.h>", ".fi", ".PP",
            "cc app.c $(pkg-config \\-\\-cflags \\-\\-libs pgdblink)",
            ".SH DESCRIPTION",
            "pgdblink gives programs outside the database server the functions of",
            "PostgreSQL's dblink extension (named connections, asynchronous queries,",
            "cancel, notifications) with dblink's arguments, return encoding, messages",
            "and SQLSTATEs, plus what dblink users miss (waiting on many connections,",
            "parameters, streaming, timeouts, parallel connects).",
            "This page lists the functions of \\fIpgdblink.h\\fR; each has its own page."]
    out += CONVENTIONS
    out.append(".SH FUNCTIONS")
    for f in FUNCS:
        out.append(".TP")
        out.append(".BR %s (3)" % f.name)
        out.append(line(esc(summary(f)) or "-"))
    others = [it for it in ITEMS if it.kind in ("struct", "enum", "callback")]
    if others:
        out.append(".SH TYPES")
        for it in others:
            out.append(".SS %s" % it.name)
            out.append(".nf")
            for d in it.decl.split("\n"):
                out.append(line(esc(d)))
            out.append(".fi")
            out += to_roff(it.doc, heading=".SS")
            for (name, value, mdoc) in it.members:
                out.append(".TP")
                out.append(".B %s%s" % (name, " = " + esc(value) if value else ""))
                body = to_roff(mdoc, heading=".SS")
                if body and body[0] == ".PP":
                    body = body[1:]
                out += body
    macros = [it for it in ITEMS if it.kind == "macro"]
    if macros:
        out.append(".SH CONSTANTS")
        for it in macros:
            out.append(".TP")
            out.append(".B %s" % esc(it.decl[len("#define"):].strip()))
            body = to_roff(it.doc, heading=".SS")
            if body and body[0] == ".PP":
                body = body[1:]
            out += body
    out += [".SH FILES", ".TP", ".I libpgdblink.so, libpgdblink.a",
            "the library (SONAME \\fBlibpgdblink.so.0.MINOR\\fR while the version is 0.x,",
            "\\fBlibpgdblink.so.MAJOR\\fR from 1.0)",
            ".TP", ".I pgdblink.pc", "for pkg-config",
            ".SH SEE ALSO"]
    out.append(",\n".join(".BR %s (3)" % f.name for f in FUNCS))
    return "\n".join(out) + "\n"


# --- writing, then checking -------------------------------------------------------
man3 = os.path.join(args.out, "man3")
if os.path.isdir(man3):
    shutil.rmtree(man3)
os.makedirs(man3)
pages = {"pgdblink": overview_page()}
for f in FUNCS:
    pages[f.name] = function_page(f)
for name, text in pages.items():
    with open(os.path.join(man3, name + ".3"), "w") as out:
        out.write(text)

problems = []
overview = pages["pgdblink"]
for f in FUNCS:
    if not os.path.isfile(os.path.join(man3, f.name + ".3")):
        problems.append("no page for %s" % f.name)
    if ".BR %s (3)" % f.name not in overview:
        problems.append("pgdblink.3 does not list %s" % f.name)
    if not f.doc:
        problems.append("%s has no doc comment in the header" % f.name)
if args.lint:
    groff = shutil.which("groff")
    if not groff:
        die("--lint needs groff")
    for name in sorted(pages):
        path = os.path.join(man3, name + ".3")
        r = subprocess.run([groff, "-man", "-ww", "-z", "-Tutf8", path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        if r.returncode != 0 or r.stderr.strip():
            problems.append("groff on %s: %s" % (path, r.stderr.strip()))
if problems:
    die("\n  ".join(["the reference is incomplete:"] + problems))
sys.stderr.write("c-reference.sh: %d pages (pgdblink.3 and %d functions) in %s\n"
                 % (len(pages), len(FUNCS), man3))
PY
