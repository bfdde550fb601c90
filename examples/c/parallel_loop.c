/*
 * parallel_loop: the classic PL/pgSQL "parallel query with dblink" loop,
 * ported to C call for call.
 *
 *   parallel_loop [-n N] [-m M] [-c DSN]
 *
 *   -n N    the number of workers (connections; default 4)
 *   -m M    sum the integers 1..M (default 1000000)
 *   -c DSN  a libpq connection string or URI (default: $PGDBLINK_DSN)
 *
 * Each worker w<i> sums the slice of generate_series(1, M) where
 * g % N = i - 1; the slices are added up and checked against M(M+1)/2.
 * Prints each worker's part and the sum; exits 1 on a wrong sum or any
 * ERROR (printed with its SQLSTATE, message and DETAIL), 2 for bad
 * arguments.
 *
 * The original, as it runs inside the server with the dblink extension
 * (tests/packaging.rs runs this very text against the real dblink and
 * compares its result with this program's):
 *
 * -- BEGIN PL/pgSQL
 * create or replace function parallel_sum(connstr text, n int, m bigint)
 * returns bigint language plpgsql as $$
 * declare
 *   i int;
 *   slice_sum bigint;
 *   total bigint := 0;
 * begin
 *   for i in 1..n loop
 *     perform dblink_connect('w' || i, connstr);
 *     perform dblink_send_query('w' || i,
 *       'select sum(g)::bigint from generate_series(1, ' || m || ') g'
 *       || ' where g % ' || n || ' = ' || (i - 1));
 *   end loop;
 *   for i in 1..n loop
 *     while dblink_is_busy('w' || i) = 1 loop
 *       perform pg_sleep(0.01);
 *     end loop;
 *     select t.part into slice_sum
 *       from dblink_get_result('w' || i) as t(part bigint);
 *     total := total + coalesce(slice_sum, 0);
 *     perform dblink_disconnect('w' || i);
 *   end loop;
 *   return total;
 * end
 * $$;
 * -- END PL/pgSQL
 *
 * The port keeps the same calls in the same order (each block below is
 * headed by the PL/pgSQL lines it stands for), with one change: instead of
 * polling dblink_is_busy every 10 ms with pg_sleep, it sleeps in
 * dblink_wait_any until the worker's socket has its result. (To collect the
 * workers in the order they finish rather than w1..wN, wait on all the
 * pending ones at once; see fanout.c.) Unlike the PL/pgSQL, which leaves
 * its connections open in the session when it fails halfway, the port
 * disconnects every worker it connected before it exits.
 *
 * Build against an installed pgdblink (scripts/install.sh):
 *   cc -o parallel_loop parallel_loop.c $(pkg-config --cflags --libs pgdblink)
 */
#define _POSIX_C_SOURCE 200809L

#include <pgdblink.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_WORKERS 1000
#define MAX_M 2000000000LL /* M(M+1)/2 stays well inside a 64-bit integer */

/* Prints this thread's last pgdblink ERROR: SQLSTATE, message, DETAIL, HINT. */
static void print_error(const char *what) {
    const char *sqlstate = dblink_last_sqlstate();
    const char *message = dblink_last_error();
    const char *detail = dblink_last_detail();
    const char *hint = dblink_last_hint();
    fprintf(stderr, "parallel_loop: %s: ERROR %s: %s\n", what, sqlstate ? sqlstate : "?????",
            message ? message : "(no message)");
    if (detail)
        fprintf(stderr, "DETAIL: %s\n", detail);
    if (hint)
        fprintf(stderr, "HINT: %s\n", hint);
}

static void usage(void) {
    fprintf(stderr, "usage: parallel_loop [-n N] [-m M] [-c DSN]\n"
                    "  -n N    number of workers (default 4)\n"
                    "  -m M    sum 1..M (default 1000000)\n"
                    "  -c DSN  connection string (default: $PGDBLINK_DSN)\n");
}

static int parse_number(const char *s, long long lo, long long hi, long long *out) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

int main(int argc, char **argv) {
    long long n = 4, m = 1000000;
    const char *connstr = getenv("PGDBLINK_DSN");
    int opt;
    while ((opt = getopt(argc, argv, "n:m:c:h")) != -1) {
        switch (opt) {
        case 'n':
            if (!parse_number(optarg, 1, MAX_WORKERS, &n)) {
                fprintf(stderr, "parallel_loop: -n wants 1..%d\n", MAX_WORKERS);
                return 2;
            }
            break;
        case 'm':
            if (!parse_number(optarg, 0, MAX_M, &m)) {
                fprintf(stderr, "parallel_loop: -m wants 0..%lld\n", MAX_M);
                return 2;
            }
            break;
        case 'c':
            connstr = optarg;
            break;
        default:
            usage();
            return opt == 'h' ? 0 : 2;
        }
    }
    if (optind < argc) {
        usage();
        return 2;
    }
    if (!connstr || !*connstr) {
        fprintf(stderr, "parallel_loop: no connection string: use -c DSN or set PGDBLINK_DSN\n");
        return 2;
    }

    int status = 1;
    int i;
    long long total = 0;
    char name[16];
    char sql[256];
    /* connected[i]: worker w<i> is connected (for the cleanup on failure). */
    char *connected = calloc((size_t)n + 1, 1);
    if (!connected) {
        fprintf(stderr, "parallel_loop: out of memory\n");
        return 1;
    }
    printf("parallel_loop: %lld workers, sum of 1..%lld\n", n, m);

    /*   for i in 1..n loop
     *     perform dblink_connect('w' || i, connstr);
     *     perform dblink_send_query('w' || i,
     *       'select sum(g)::bigint from generate_series(1, ' || m || ') g'
     *       || ' where g % ' || n || ' = ' || (i - 1));
     *   end loop;                                                          */
    for (i = 1; i <= n; i++) {
        snprintf(name, sizeof name, "w%d", i);
        if (dblink_connect(name, connstr) != 1) {
            print_error("dblink_connect");
            goto out;
        }
        connected[i] = 1;
        snprintf(sql, sizeof sql,
                 "select sum(g)::bigint from generate_series(1, %lld) g where g %% %lld = %d", m,
                 n, i - 1);
        int sent = dblink_send_query(name, sql);
        if (sent != 1) {
            if (sent == 0) {
                char *why = dblink_error_message(name);
                fprintf(stderr, "parallel_loop: %s: could not send query: %s\n", name,
                        why ? why : "?");
                dblink_free(why);
            } else {
                print_error("dblink_send_query");
            }
            goto out;
        }
    }

    for (i = 1; i <= n; i++) {
        snprintf(name, sizeof name, "w%d", i);
        const char *const worker[1] = {name};

        /*   for i in 1..n loop
         *     while dblink_is_busy('w' || i) = 1 loop
         *       perform pg_sleep(0.01);
         *     end loop;                                                    */
        int busy;
        while ((busy = dblink_is_busy(name)) == 1) {
            /* Instead of pg_sleep(0.01): sleep until the result is there. */
            if (dblink_wait_any(worker, 1, -1) < 0) {
                print_error("dblink_wait_any");
                goto out;
            }
        }
        if (busy < 0) {
            print_error("dblink_is_busy");
            goto out;
        }

        /*     select t.part into slice_sum
         *       from dblink_get_result('w' || i) as t(part bigint);        */
        dblink_result *r = dblink_get_result(name, 1);
        if (!r) {
            print_error("dblink_get_result");
            goto out;
        }
        long long slice_sum = 0; /* coalesce(slice_sum, 0) */
        int is_null = 1;
        if (dblink_result_status(r) == DBLINK_STATUS_TUPLES && dblink_result_ntuples(r) > 0 &&
            dblink_result_getisnull(r, 0, 0) == 0) {
            slice_sum = strtoll(dblink_result_getvalue(r, 0, 0), NULL, 10);
            is_null = 0;
        }
        dblink_result_free(r);

        /*     total := total + coalesce(slice_sum, 0);                      */
        total += slice_sum;
        printf("%s: g %% %lld = %d: %lld%s\n", name, n, i - 1, slice_sum,
               is_null ? " (no rows: NULL)" : "");

        /*     perform dblink_disconnect('w' || i);
         *   end loop;                                                      */
        if (dblink_disconnect(name) != 1) {
            print_error("dblink_disconnect");
            goto out;
        }
        connected[i] = 0;
    }

    /*   return total;                                                      */
    long long expected = m * (m + 1) / 2;
    if (total == expected) {
        printf("sum = %lld, expected %lld: ok\n", total, expected);
        status = 0;
    } else {
        printf("sum = %lld, expected %lld: WRONG\n", total, expected);
    }

out:
    for (i = 1; i <= n; i++) {
        if (connected[i]) {
            snprintf(name, sizeof name, "w%d", i);
            dblink_disconnect(name);
        }
    }
    free(connected);
    return status;
}
