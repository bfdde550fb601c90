/*
 * fanout: one query sent to N connections at once, the results gathered as
 * they arrive, without busy polling: the C counterpart of examples/fanout.rs.
 *
 *   fanout [-n N] [-c DSN] [SQL]
 *
 *   -n N    the number of connections (default 4)
 *   -c DSN  a libpq connection string or URI (default: $PGDBLINK_DSN)
 *   SQL     the query (default: which backend answered, after a short random
 *           sleep, so that the answers come back in a different order)
 *
 * The steps are dblink's asynchronous API:
 *   dblink_connect_all     open the N named connections in parallel
 *   dblink_send_query      dispatch the query on each, without waiting
 *   dblink_wait_any        sleep until one of the pending connections has a
 *                          result (poll(2) on their sockets, no busy loop)
 *   dblink_get_result      read it; repeat until DBLINK_STATUS_DONE
 *   dblink_disconnect      close each connection
 *
 * Output (stdout): one line per row, `<connection> row <i>: col=value ...`,
 * then `<connection> done: <rows> rows in <ms> ms` when its query has
 * finished, and a summary line. A failure is printed on stderr with its
 * SQLSTATE, message and DETAIL; the exit status is 1 when any connection
 * failed, 2 for bad arguments.
 *
 * Build against an installed pgdblink (scripts/install.sh):
 *   cc -o fanout fanout.c $(pkg-config --cflags --libs pgdblink)
 */
#define _POSIX_C_SOURCE 200809L

#include <pgdblink.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SQL                                                            \
    "select pg_backend_pid() as pid, pg_sleep(random() * 0.3)::text as slept, " \
    "clock_timestamp() as at"

/* How long one dblink_wait_any call may sleep before the progress line. */
#define WAIT_SLICE_MS 1000
#define MAX_CONNECTIONS 1000

struct job {
    char *name;
    double sent_ms;   /* when the query was dispatched */
    double done_ms;   /* when DBLINK_STATUS_DONE came (0 while pending) */
    long rows;
    int failed;       /* a remote error was reported for this connection */
};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Prints this thread's last pgdblink ERROR: SQLSTATE, message, DETAIL, HINT. */
static void print_error(const char *what) {
    const char *sqlstate = dblink_last_sqlstate();
    const char *message = dblink_last_error();
    const char *detail = dblink_last_detail();
    const char *hint = dblink_last_hint();
    fprintf(stderr, "fanout: %s: ERROR %s: %s\n", what, sqlstate ? sqlstate : "?????",
            message ? message : "(no message)");
    if (detail)
        fprintf(stderr, "DETAIL: %s\n", detail);
    if (hint)
        fprintf(stderr, "HINT: %s\n", hint);
}

static void usage(void) {
    fprintf(stderr, "usage: fanout [-n N] [-c DSN] [SQL]\n"
                    "  -n N    number of connections (default 4)\n"
                    "  -c DSN  connection string (default: $PGDBLINK_DSN)\n");
}

/* Prints the rows of one result, numbered on from job->rows. */
static void print_rows(struct job *job, const dblink_result *r) {
    int ntuples = dblink_result_ntuples(r);
    int nfields = dblink_result_nfields(r);
    for (int row = 0; row < ntuples; row++) {
        printf("%s row %ld:", job->name, ++job->rows);
        for (int col = 0; col < nfields; col++) {
            const char *value = dblink_result_getisnull(r, row, col) == 1
                                    ? "NULL"
                                    : dblink_result_getvalue(r, row, col);
            printf(" %s=%s", dblink_result_fname(r, col), value);
        }
        printf("\n");
    }
}

/*
 * Reads the results that are ready on a connection. Returns 1 when the
 * query has finished (DBLINK_STATUS_DONE), 0 when more results are still
 * coming (wait again), -1 on an ERROR of pgdblink itself.
 */
static int collect(struct job *job) {
    int errors_in_a_row = 0;
    for (;;) {
        dblink_result *r = dblink_get_result(job->name, 1);
        if (!r) {
            /* A remote error (e.g. division by zero): reported, and the next
             * dblink_get_result returns the empty set that ends the query.
             * Two in a row is an ERROR of pgdblink itself (e.g. 08003). */
            if (++errors_in_a_row > 1)
                return -1;
            print_error(job->name);
            job->failed = 1;
            continue;
        }
        errors_in_a_row = 0;
        dblink_status status = dblink_result_status(r);
        if (status == DBLINK_STATUS_TUPLES)
            print_rows(job, r);
        else if (status == DBLINK_STATUS_COMMAND)
            printf("%s: %s\n", job->name, dblink_result_getvalue(r, 0, 0));
        dblink_result_free(r);
        if (status == DBLINK_STATUS_DONE) {
            job->done_ms = now_ms();
            printf("%s done: %ld rows in %.1f ms%s\n", job->name, job->rows,
                   job->done_ms - job->sent_ms, job->failed ? " (failed)" : "");
            fflush(stdout);
            return 1;
        }
        /* A query of several statements: is the next result there yet? */
        int busy = dblink_is_busy(job->name);
        if (busy < 0)
            return -1;
        if (busy)
            return 0;
    }
}

int main(int argc, char **argv) {
    int n = 4;
    const char *dsn = getenv("PGDBLINK_DSN");
    const char *sql = DEFAULT_SQL;
    int opt;
    while ((opt = getopt(argc, argv, "n:c:h")) != -1) {
        switch (opt) {
        case 'n': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || v < 1 || v > MAX_CONNECTIONS) {
                fprintf(stderr, "fanout: -n wants a number from 1 to %d\n", MAX_CONNECTIONS);
                return 2;
            }
            n = (int)v;
            break;
        }
        case 'c':
            dsn = optarg;
            break;
        default:
            usage();
            return opt == 'h' ? 0 : 2;
        }
    }
    if (optind < argc)
        sql = argv[optind++];
    if (optind < argc) {
        usage();
        return 2;
    }
    if (!dsn || !*dsn) {
        fprintf(stderr, "fanout: no connection string: use -c DSN or set PGDBLINK_DSN\n");
        usage();
        return 2;
    }

    int status = 0;
    struct job *jobs = calloc((size_t)n, sizeof *jobs);
    const char **names = calloc((size_t)n, sizeof *names);
    const char **connstrs = calloc((size_t)n, sizeof *connstrs);
    const char **pending = calloc((size_t)n, sizeof *pending);
    int *pending_job = calloc((size_t)n, sizeof *pending_job);
    int *ok = calloc((size_t)n, sizeof *ok);
    if (!jobs || !names || !connstrs || !pending || !pending_job || !ok) {
        fprintf(stderr, "fanout: out of memory\n");
        status = 1;
        goto out;
    }
    for (int i = 0; i < n; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "fanout%d", i + 1);
        jobs[i].name = strdup(buf);
        if (!jobs[i].name) {
            fprintf(stderr, "fanout: out of memory\n");
            status = 1;
            goto out;
        }
        names[i] = jobs[i].name;
        connstrs[i] = dsn;
    }

    /* 1. Connect all N at once (the connects proceed in parallel). */
    double start = now_ms();
    int opened = dblink_connect_all(names, connstrs, n, 30000, ok);
    if (opened != n) {
        print_error("connect");
        fprintf(stderr, "fanout: %d of %d connections opened\n", opened < 0 ? 0 : opened, n);
        status = 1;
        goto out;
    }
    printf("fanout: %d connections in %.1f ms\n", n, now_ms() - start);

    /* 2. Send the query on every connection; none of them waits. */
    for (int i = 0; i < n; i++) {
        jobs[i].sent_ms = now_ms();
        int sent = dblink_send_query(jobs[i].name, sql);
        if (sent == 1)
            continue;
        if (sent == 0) {
            char *why = dblink_error_message(jobs[i].name);
            fprintf(stderr, "fanout: %s: could not send query: %s\n", jobs[i].name,
                    why ? why : "?");
            dblink_free(why);
        } else {
            print_error(jobs[i].name);
        }
        status = 1;
        goto out;
    }

    /* 3. Gather: wait on all pending connections together; read whichever
     *    is ready first, until each has returned DBLINK_STATUS_DONE. */
    for (;;) {
        int npending = 0;
        for (int i = 0; i < n; i++) {
            if (jobs[i].done_ms == 0) {
                pending[npending] = jobs[i].name;
                pending_job[npending++] = i;
            }
        }
        if (npending == 0)
            break;
        int ready = dblink_wait_any(pending, npending, WAIT_SLICE_MS);
        if (ready == DBLINK_TIMED_OUT) {
            fprintf(stderr, "fanout: still waiting for %d of %d connections\n", npending, n);
            continue;
        }
        if (ready < 0) {
            print_error("wait");
            status = 1;
            goto out;
        }
        struct job *job = &jobs[pending_job[ready]];
        if (collect(job) < 0) {
            print_error(job->name);
            status = 1;
            goto out;
        }
    }

    long total_rows = 0;
    int failed = 0;
    for (int i = 0; i < n; i++) {
        total_rows += jobs[i].rows;
        failed += jobs[i].failed;
    }
    printf("fanout: %d connections, %ld rows, %d failed, %.1f ms in all\n", n, total_rows,
           failed, now_ms() - start);
    if (failed)
        status = 1;

out:
    /* 4. Disconnect what is connected and free everything. */
    if (jobs) {
        for (int i = 0; i < n; i++) {
            if (jobs[i].name && (!ok || ok[i]))
                dblink_disconnect(jobs[i].name);
            free(jobs[i].name);
        }
    }
    free(jobs);
    free(names);
    free(connstrs);
    free(pending);
    free(pending_job);
    free(ok);
    return status;
}
