#!/usr/bin/env python3
"""fanout.py: one query sent to N named connections at once, the results
gathered as they arrive, through pgdblink's C library with ctypes (standard
library only): the Python counterpart of examples/c/fanout.c.

    PGDBLINK_LIB=target/debug/libpgdblink.so \\
        python3 examples/python/fanout.py [-n N] [-c DSN] [--lib PATH] [SQL]

    -n N        the number of connections (default 4)
    -c DSN      a libpq connection string or URI (default: $PGDBLINK_DSN)
    --lib PATH  the library (default: $PGDBLINK_LIB, else libpgdblink.so.0.1
                as the dynamic loader finds it, e.g. after scripts/install.sh)
    SQL         the query (default: which backend answered, after a short
                random sleep, so that the answers come back in any order)

The steps are dblink's asynchronous API:
    dblink_connect      open each named connection (fanout1 .. fanoutN)
    dblink_send_query   dispatch the query on each, without waiting
    dblink_wait_ready   sleep until some pending connections have a result
                        (one poll(2) on all their sockets, no busy loop)
    dblink_get_result   read each ready one; repeat until DBLINK_STATUS_DONE
    dblink_disconnect   close each connection

Output (stdout): `pgdblink <version>, libpq <major>.<minor>`, then one line
per row, `<connection> row <i>: col=value ...` (NULL for SQL NULL), then
`<connection> done: <rows> rows` when its query has finished, and the
summary `fanout: <N> connections, <rows> rows, <failed> failed`. An ERROR
is printed on stderr from dblink_last() as `fanout: <where>: ERROR
<sqlstate>: <message>`, with DETAIL, HINT and CONTEXT lines. Exit status 1
when any connection failed, 2 for bad arguments.

Results are freed by their wrapper's __del__: when a variable that holds
one is rebound to the next call's outcome, the old result is freed before
the new error is read. pgdblink's frees never touch the thread's last
error, so the error read just after is still that call's.
"""

import argparse
import ctypes
import os
import sys

# From include/pgdblink.h.
DBLINK_TIMED_OUT = -2
DBLINK_STATUS_TUPLES, DBLINK_STATUS_COMMAND, DBLINK_STATUS_DONE, DBLINK_STATUS_ERROR = range(4)

DEFAULT_SQL = (
    "select pg_backend_pid() as pid, pg_sleep(random() * 0.3)::text as slept, "
    "clock_timestamp() as at"
)

# How long one dblink_wait_ready call may sleep before the progress line.
WAIT_SLICE_MS = 1000


class DblinkError(ctypes.Structure):
    """`dblink_error`, as dblink_last() returns it."""

    _fields_ = [(name, ctypes.c_char_p) for name in ("sqlstate", "message", "detail", "hint", "context")]


def load(path):
    """The library, with the signatures of the functions used here."""
    lib = ctypes.CDLL(path)
    c_str, c_int, result = ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p
    names = ctypes.POINTER(ctypes.c_char_p)
    for name, restype, argtypes in [
        ("dblink_version", c_str, []),
        ("dblink_libpq_version", c_int, []),
        ("dblink_last", ctypes.POINTER(DblinkError), []),
        ("dblink_connect", c_int, [c_str, c_str]),
        ("dblink_disconnect", c_int, [c_str]),
        ("dblink_send_query", c_int, [c_str, c_str]),
        ("dblink_error_message", ctypes.c_void_p, [c_str]),  # a char * to free
        ("dblink_free", None, [ctypes.c_void_p]),
        ("dblink_is_busy", c_int, [c_str]),
        ("dblink_wait_ready", c_int, [names, c_int, ctypes.POINTER(c_int), c_int]),
        ("dblink_get_result", result, [c_str, c_int]),
        ("dblink_result_status", c_int, [result]),
        ("dblink_result_ntuples", c_int, [result]),
        ("dblink_result_nfields", c_int, [result]),
        ("dblink_result_fname", c_str, [result, c_int]),
        ("dblink_result_getvalue", c_str, [result, c_int, c_int]),
        ("dblink_result_getisnull", c_int, [result, c_int, c_int]),
        ("dblink_result_free", None, [result]),
    ]:
        f = getattr(lib, name)
        f.restype, f.argtypes = restype, argtypes
    return lib


def text(b):
    return None if b is None else b.decode("utf-8", "replace")


class Result:
    """A `dblink_result *`, freed when the object goes (NULL: an ERROR)."""

    def __init__(self, lib, ptr):
        self._free = lib.dblink_result_free
        self.ptr = ptr

    def __bool__(self):
        return bool(self.ptr)

    def __del__(self):
        if self.ptr:
            self._free(self.ptr)
            self.ptr = None


def print_error(lib, where):
    """This thread's last pgdblink ERROR, from dblink_last()."""
    e = lib.dblink_last()
    if not e:
        print(f"fanout: {where}: failed without an error (a bug)", file=sys.stderr)
        return
    e = e.contents
    print(f"fanout: {where}: ERROR {text(e.sqlstate)}: {text(e.message)}", file=sys.stderr)
    for label, value in (("DETAIL", e.detail), ("HINT", e.hint), ("CONTEXT", e.context)):
        if value is not None:
            print(f"{label}: {text(value)}", file=sys.stderr)


class Job:
    def __init__(self, name):
        self.name = name
        self.cname = name.encode()
        self.rows = 0
        self.failed = False
        self.done = False
        self.connected = False


def print_rows(lib, job, r):
    for row in range(lib.dblink_result_ntuples(r.ptr)):
        job.rows += 1
        cells = []
        for col in range(lib.dblink_result_nfields(r.ptr)):
            # getvalue's NULL is SQL NULL or no such cell: getisnull tells.
            if lib.dblink_result_getisnull(r.ptr, row, col) == 1:
                value = "NULL"
            else:
                value = text(lib.dblink_result_getvalue(r.ptr, row, col))
            cells.append(f"{text(lib.dblink_result_fname(r.ptr, col))}={value}")
        print(f"{job.name} row {job.rows}: {' '.join(cells)}")


def collect(lib, job):
    """Reads the results ready on one connection: True when its query has
    finished, False when more are coming (wait again); raises on an ERROR
    of pgdblink itself."""
    r = None
    errors_in_a_row = 0
    while True:
        # Rebinding r frees the previous result (Result.__del__) before the
        # error of this call is read: that free leaves the error in place.
        r = Result(lib, lib.dblink_get_result(job.cname, 1))
        if not r:
            # A remote error (e.g. division by zero): reported, and the next
            # dblink_get_result returns the empty set that ends the query.
            # Two in a row is an ERROR of pgdblink itself (e.g. 08003).
            errors_in_a_row += 1
            if errors_in_a_row > 1:
                raise RuntimeError(job.name)
            print_error(lib, job.name)
            job.failed = True
            continue
        errors_in_a_row = 0
        status = lib.dblink_result_status(r.ptr)
        if status == DBLINK_STATUS_TUPLES:
            print_rows(lib, job, r)
        elif status == DBLINK_STATUS_COMMAND:
            print(f"{job.name}: {text(lib.dblink_result_getvalue(r.ptr, 0, 0))}")
        elif status == DBLINK_STATUS_DONE:
            job.done = True
            print(f"{job.name} done: {job.rows} rows{' (failed)' if job.failed else ''}")
            sys.stdout.flush()
            return True
        # A query of several statements: is the next result there yet?
        busy = lib.dblink_is_busy(job.cname)
        if busy < 0:
            raise RuntimeError(job.name)
        if busy:
            return False


def fanout(lib, jobs, dsn, sql):
    """Connects, sends, gathers. Returns the exit status."""
    for job in jobs:
        if lib.dblink_connect(job.cname, dsn.encode()) != 1:
            print_error(lib, f"connect {job.name}")
            return 1
        job.connected = True
    for job in jobs:
        sent = lib.dblink_send_query(job.cname, sql.encode())
        if sent == 1:
            continue
        if sent == 0:
            why = lib.dblink_error_message(job.cname)
            reason = text(ctypes.cast(why, ctypes.c_char_p).value) if why else "?"
            lib.dblink_free(why)
            print(f"fanout: {job.name}: could not send query: {reason}", file=sys.stderr)
        else:
            print_error(lib, job.name)
        return 1

    ready = (ctypes.c_int * len(jobs))()
    while True:
        pending = [job for job in jobs if not job.done]
        if not pending:
            break
        names = (ctypes.c_char_p * len(pending))(*[job.cname for job in pending])
        k = lib.dblink_wait_ready(names, len(pending), ready, WAIT_SLICE_MS)
        if k == DBLINK_TIMED_OUT:
            print(f"fanout: still waiting for {len(pending)} of {len(jobs)} connections", file=sys.stderr)
            continue
        if k < 0:
            print_error(lib, "wait")
            return 1
        for i in ready[:k]:
            job = pending[i]
            try:
                collect(lib, job)
            except RuntimeError:
                print_error(lib, job.name)
                return 1

    rows = sum(job.rows for job in jobs)
    failed = sum(job.failed for job in jobs)
    print(f"fanout: {len(jobs)} connections, {rows} rows, {failed} failed")
    return 1 if failed else 0


def main(argv):
    parser = argparse.ArgumentParser(description="Fan a query out to N pgdblink connections.")
    parser.add_argument("-n", type=int, default=4, help="the number of connections (default 4)")
    parser.add_argument("-c", dest="dsn", default=os.environ.get("PGDBLINK_DSN"),
                        help="connection string (default: $PGDBLINK_DSN)")
    parser.add_argument("--lib", default=os.environ.get("PGDBLINK_LIB") or "libpgdblink.so.0.1",
                        help="the pgdblink library (default: $PGDBLINK_LIB or libpgdblink.so.0.1)")
    parser.add_argument("sql", nargs="?", default=DEFAULT_SQL, help="the query")
    args = parser.parse_args(argv)
    if not 1 <= args.n <= 1000:
        parser.error("-n wants a number from 1 to 1000")
    if not args.dsn:
        parser.error("no connection string: use -c DSN or set PGDBLINK_DSN")
    try:
        lib = load(args.lib)
    except OSError as e:
        print(f"fanout: cannot load {args.lib}: {e} (set PGDBLINK_LIB or --lib)", file=sys.stderr)
        return 2

    v = lib.dblink_libpq_version()
    print(f"pgdblink {text(lib.dblink_version())}, libpq {v // 10000}.{v % 10000}")
    jobs = [Job(f"fanout{i + 1}") for i in range(args.n)]
    try:
        return fanout(lib, jobs, args.dsn, args.sql)
    finally:
        for job in jobs:
            if job.connected:
                lib.dblink_disconnect(job.cname)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
