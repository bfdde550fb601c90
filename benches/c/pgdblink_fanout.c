/*
 * pgdblink_fanout: the fan-out at scale through pgdblink's C ABI
 * (include/pgdblink.h), the counterpart of `rawpq fanout_n`. benches/suite
 * links it with the staticlib of the same build (target/<profile>/
 * libpgdblink.a, which holds the same bundled libpq as the raw anchor).
 *
 *   pgdblink_fanout CONNSTR NCONN SQL wait_any     gather with dblink_wait_any
 *   pgdblink_fanout CONNSTR NCONN SQL wait_ready   gather with dblink_wait_ready
 *
 * NCONN connections are opened with dblink_connect_all before the measured
 * part; then "READY pid=P" and a wait for SIGUSR1 (fanout_wait.h); then SQL
 * is sent on all with dblink_send_query and gathered:
 *
 * - wait_any: dblink_wait_any returns one ready index per call (the lowest);
 *   its results are read with dblink_get_result until DBLINK_STATUS_DONE.
 * - wait_ready: dblink_wait_ready(names, n, ready, timeout_ms) writes the
 *   indexes of every ready name into `ready` and returns their count; each
 *   is read the same way. Built only when include/pgdblink.h declares it
 *   (the suite passes -DPGDBLINK_HAS_WAIT_READY); otherwise this mode exits
 *   with status 3.
 *
 * Measured from the first send to the last result: wall, and the process's
 * CPU (getrusage). Prints "RESULT key=value ..." like rawpq.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgdblink.h"

#include "fanout_wait.h"

/* The libpq linked in with pgdblink's staticlib: both sides must report the
 * same version. libpgdblink.a exports the dblink_* API alone, so pgdblink
 * itself says which libpq it holds (the suite passes
 * -DPGDBLINK_HAS_LIBPQ_VERSION when include/pgdblink.h declares
 * dblink_libpq_version); without that function the suite links the archive
 * as rustc made it (capi/libpgdblink.full.a, see scripts/build-c.sh), whose
 * PQlibVersion is global. */
#ifdef PGDBLINK_HAS_LIBPQ_VERSION
#define LINKED_LIBPQ_VERSION() dblink_libpq_version()
#else
extern int PQlibVersion(void);
#define LINKED_LIBPQ_VERSION() PQlibVersion()
#endif

static void die(const char *what) {
    const char *e = dblink_last_error();
    fprintf(stderr, "pgdblink_fanout: %s%s%s\n", what, e ? ": " : "", e ? e : "");
    exit(1);
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long maxrss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

struct tally {
    long long results;
    unsigned long long check;
    long long waits;
};

/* Every result of the query on `name`, until DBLINK_STATUS_DONE. */
static void drain(const char *name, struct tally *t) {
    for (;;) {
        dblink_result *r = dblink_get_result(name, 1);
        if (!r)
            die("dblink_get_result failed");
        dblink_status st = dblink_result_status(r);
        if (st == DBLINK_STATUS_DONE) {
            dblink_result_free(r);
            return;
        }
        if (st != DBLINK_STATUS_TUPLES)
            die("unexpected result status");
        t->results++;
        t->check += (unsigned long long)dblink_result_ntuples(r);
        dblink_result_free(r);
    }
}

static void gather_wait_any(const char **pending, int n, struct tally *t) {
    while (n > 0) {
        t->waits++;
        int i = dblink_wait_any(pending, n, -1);
        if (i < 0)
            die("dblink_wait_any failed");
        drain(pending[i], t);
        pending[i] = pending[--n];
    }
}

#ifdef PGDBLINK_HAS_WAIT_READY
static void gather_wait_ready(const char **pending, int n, struct tally *t) {
    int *ready = calloc((size_t)n, sizeof *ready);
    char *done = calloc((size_t)n, 1);
    if (!ready || !done)
        die("out of memory");
    while (n > 0) {
        t->waits++;
        int k = dblink_wait_ready(pending, n, ready, -1);
        if (k < 0)
            die("dblink_wait_ready failed");
        for (int j = 0; j < k; j++) {
            if (ready[j] < 0 || ready[j] >= n || done[ready[j]])
                die("dblink_wait_ready wrote a bad index");
            drain(pending[ready[j]], t);
            done[ready[j]] = 1;
        }
        int kept = 0;
        for (int i = 0; i < n; i++) {
            if (done[i])
                done[i] = 0;
            else
                pending[kept++] = pending[i];
        }
        n = kept;
    }
    free(done);
    free(ready);
}
#endif

/* One "SELECT 1" round trip by name through the C ABI: send, then
 * dblink_get_result until DBLINK_STATUS_DONE, reading every cell (as rawpq's
 * round_trip does with PQgetvalue). Returns the cells' total length. */
static unsigned long long c_round_trip(const char *name) {
    if (dblink_send_query(name, "SELECT 1") != 1)
        die("dblink_send_query");
    unsigned long long sum = 0;
    for (;;) {
        dblink_result *r = dblink_get_result(name, 1);
        if (r == NULL)
            die("dblink_get_result");
        dblink_status st = dblink_result_status(r);
        int rows = dblink_result_ntuples(r), cols = dblink_result_nfields(r);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) {
                const char *v = dblink_result_getvalue(r, i, j);
                if (v)
                    sum += strlen(v);
            }
        dblink_result_free(r);
        if (st == DBLINK_STATUS_DONE)
            return sum;
    }
}

/* `pgdblink_fanout latency CONNSTR N`: the instruction-count workload of the
 * C ABI by name (100 warm-up round trips, then N). */
static int latency(const char *connstr, long long n) {
    if (dblink_connect("bench_c_latency", connstr) != 1)
        die("dblink_connect");
    for (int i = 0; i < 100; i++)
        c_round_trip("bench_c_latency");
    unsigned long long check = 0;
    int64_t t0 = now_ns();
    for (long long i = 0; i < n; i++)
        check += c_round_trip("bench_c_latency");
    printf("RESULT n=%lld wall_ns=%lld check=%llu\n", n, (long long)(now_ns() - t0), check);
    dblink_disconnect("bench_c_latency");
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "latency") == 0)
        return latency(argv[2], atoll(argv[3]));
    if (argc < 5) {
        fprintf(stderr, "usage: pgdblink_fanout CONNSTR NCONN SQL wait_any|wait_ready\n");
        return 2;
    }
    const char *connstr = argv[1], *sql = argv[3], *mode = argv[4];
    int n = atoi(argv[2]);
    int any = strcmp(mode, "wait_any") == 0;
    if (!any && strcmp(mode, "wait_ready") != 0) {
        fprintf(stderr, "pgdblink_fanout: unknown mode %s\n", mode);
        return 2;
    }
#ifndef PGDBLINK_HAS_WAIT_READY
    if (!any) {
        fprintf(stderr, "pgdblink_fanout: dblink_wait_ready is not in this include/pgdblink.h\n");
        return 3;
    }
#endif
    if (n <= 0) {
        fprintf(stderr, "pgdblink_fanout: NCONN must be positive\n");
        return 2;
    }
    fanout_setup(n);

    char **names = calloc((size_t)n, sizeof *names);
    const char **connstrs = calloc((size_t)n, sizeof *connstrs);
    const char **pending = calloc((size_t)n, sizeof *pending);
    int *ok = calloc((size_t)n, sizeof *ok);
    if (!names || !connstrs || !pending || !ok)
        die("out of memory");
    for (int i = 0; i < n; i++) {
        names[i] = malloc(32);
        if (!names[i])
            die("out of memory");
        snprintf(names[i], 32, "bench_fan_%d", i);
        connstrs[i] = connstr;
    }
    if (dblink_connect_all((const char *const *)names, connstrs, n, 120000, ok) != n)
        die("dblink_connect_all failed");
    fanout_ready_wait();

    struct tally t = {0, 0, 0};
    int64_t t0 = now_ns(), c0 = fanout_cpu_ns();
    for (int i = 0; i < n; i++) {
        if (dblink_send_query(names[i], sql) != 1)
            die("dblink_send_query failed");
        pending[i] = names[i];
    }
    if (any)
        gather_wait_any(pending, n, &t);
#ifdef PGDBLINK_HAS_WAIT_READY
    else
        gather_wait_ready(pending, n, &t);
#endif
    int64_t wall = now_ns() - t0, cpu = fanout_cpu_ns() - c0;
    printf("RESULT wall_ns=%lld cpu_ns=%lld maxrss_kb=%ld ops=%lld check=%llu libpq=%d waits=%lld\n",
           (long long)wall, (long long)cpu, maxrss_kb(), t.results, t.check, LINKED_LIBPQ_VERSION(),
           t.waits);
    fflush(stdout);
    dblink_disconnect_all();
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(ok);
    free(pending);
    free(connstrs);
    free(names);
    return 0;
}
