/*
 * rawpq: the raw-libpq anchor of pgdblink's benchmark suite.
 *
 * Each workload makes exactly the libpq calls pgdblink makes for the same
 * job (PQsendQuery; PQisBusy / poll(2) / PQconsumeInput until a result is
 * ready; PQgetResult; PQgetvalue over every cell; PQclear), with no wrapper
 * in between, so that "pgdblink / raw libpq" measures the wrapper alone.
 * benches/suite builds it against the same libpq that pgdblink links (the
 * bundled libpq 18 from pq-src) and runs it against the same server.
 *
 *   rawpq latency    CONNSTR N                 N x "SELECT 1" on one connection
 *   rawpq fanout     CONNSTR NCONN SQL         NCONN connections, SQL sent to all, poll(2) gather
 *   rawpq fanout_n   CONNSTR NCONN SQL         the same, PQconsumeInput only on readable sockets;
 *                                              prints "READY pid=P" once connected and waits
 *                                              for SIGUSR1 before sending (fanout_wait.h)
 *   rawpq bulk       CONNSTR SQL CHUNK         one query, every cell read (CHUNK > 0: chunked rows mode)
 *   rawpq connect    CONNSTR N                 N sequential PQconnectdb + PQsetClientEncoding
 *   rawpq contention CONNSTR THREADS N         THREADS threads, each its own PGconn, N x "SELECT 1"
 *   rawpq copy       SRC DST TO_SQL FROM_SQL PREP
 *                                              PREP run on DST (untimed), then TO_SQL (a COPY TO
 *                                              STDOUT) on SRC read with PQgetCopyData piped into
 *                                              FROM_SQL (a COPY FROM STDIN) on DST, PQputCopyData
 *   rawpq pipeline   CONNSTR N BATCH           N parameterised INSERTs in pipeline mode, a
 *                                              PQpipelineSync every BATCH, then their results
 *
 * Prints one line "RESULT key=value ..." (wall_ns, cpu_ns of the measuring
 * thread -- of the process for fanout_n --, maxrss_kb of the process, ops,
 * check) on stdout; errors go to stderr with exit status 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "libpq-fe.h"

#include "fanout_wait.h"

static void die(const char *what, PGconn *conn) {
    fprintf(stderr, "rawpq: %s%s%s\n", what, conn ? ": " : "", conn ? PQerrorMessage(conn) : "");
    exit(1);
}

static int64_t now_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long maxrss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void report(int64_t wall_ns, int64_t cpu_ns, long long ops, unsigned long long check) {
    printf("RESULT wall_ns=%lld cpu_ns=%lld maxrss_kb=%ld ops=%lld check=%llu libpq=%d\n",
           (long long)wall_ns, (long long)cpu_ns, maxrss_kb(), ops, check, PQlibVersion());
}

static PGconn *connect_or_die(const char *connstr) {
    PGconn *conn = PQconnectdb(connstr);
    if (!conn || PQstatus(conn) != CONNECTION_OK)
        die("connect failed", conn);
    /* pgdblink (like dblink) sets the client encoding after connecting. */
    if (PQsetClientEncoding(conn, "UTF8") != 0)
        die("PQsetClientEncoding failed", conn);
    return conn;
}

/* pgdblink's Conn::next_result: wait with poll(2) while PQisBusy, consuming
 * input, then PQgetResult. */
static PGresult *next_result(PGconn *conn) {
    while (PQisBusy(conn)) {
        struct pollfd p = {.fd = PQsocket(conn), .events = POLLIN};
        if (p.fd < 0)
            break;
        if (poll(&p, 1, -1) < 0 && errno != EINTR)
            die("poll failed", NULL);
        if (!PQconsumeInput(conn))
            break;
    }
    return PQgetResult(conn);
}

/* Reads every cell of a result (as a C string), returning the sum of lengths. */
static unsigned long long read_cells(const PGresult *res) {
    unsigned long long sum = 0;
    int rows = PQntuples(res), cols = PQnfields(res);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            if (PQgetisnull(res, r, c))
                continue;
            sum += strlen(PQgetvalue(res, r, c));
        }
    return sum;
}

/* One query: send, then every result until NULL; returns the cells' check sum. */
static unsigned long long round_trip(PGconn *conn, const char *sql, long long *rows) {
    if (!PQsendQuery(conn, sql))
        die("PQsendQuery failed", conn);
    unsigned long long sum = 0;
    PGresult *res;
    while ((res = next_result(conn)) != NULL) {
        ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
            die("query failed", conn);
        sum += read_cells(res);
        if (rows)
            *rows += PQntuples(res);
        PQclear(res);
    }
    return sum;
}

static int latency(const char *connstr, long long n) {
    PGconn *conn = connect_or_die(connstr);
    for (int i = 0; i < 100; i++) /* warm-up, as in every implementation */
        round_trip(conn, "SELECT 1", NULL);
    unsigned long long check = 0;
    int64_t t0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    for (long long i = 0; i < n; i++)
        check += round_trip(conn, "SELECT 1", NULL);
    int64_t wall = now_ns(CLOCK_MONOTONIC) - t0, cpu = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
    report(wall, cpu, n, check);
    PQfinish(conn);
    return 0;
}

/* `rawpq insert CONNSTR N`: N parameterised INSERTs (text parameters,
 * types inferred), each a PQsendQueryParams round trip, into a temp table. */
static int insert(const char *connstr, long long n) {
    PGconn *conn = connect_or_die(connstr);
    PGresult *res = PQexec(conn, "create temp table bench_ins(a int, b text)");
    PQclear(res);
    const char *sql = "insert into bench_ins values ($1, $2)";
    char num[32];
    unsigned long long check = 0;
    int64_t t0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    for (long long i = 0; i < n + 100; i++) {
        snprintf(num, sizeof num, "%lld", i);
        const char *values[2] = {num, "some text"};
        if (!PQsendQueryParams(conn, sql, 2, NULL, values, NULL, NULL, 0))
            die("PQsendQueryParams failed", conn);
        while ((res = next_result(conn)) != NULL) {
            if (PQresultStatus(res) != PGRES_COMMAND_OK)
                die("insert failed", conn);
            check += strlen(PQcmdStatus(res));
            PQclear(res);
        }
    }
    int64_t wall = now_ns(CLOCK_MONOTONIC) - t0, cpu = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
    report(wall, cpu, n, check);
    PQfinish(conn);
    return 0;
}

static int fanout(const char *connstr, int nconn, const char *sql) {
    PGconn **conns = calloc((size_t)nconn, sizeof *conns);
    struct pollfd *fds = calloc((size_t)nconn, sizeof *fds);
    int *idx = calloc((size_t)nconn, sizeof *idx);
    if (!conns || !fds || !idx)
        die("out of memory", NULL);
    for (int i = 0; i < nconn; i++)
        conns[i] = connect_or_die(connstr);
    unsigned long long check = 0;
    int64_t t0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    for (int i = 0; i < nconn; i++)
        if (!PQsendQuery(conns[i], sql))
            die("PQsendQuery failed", conns[i]);
    int pending = nconn;
    char *done = calloc((size_t)nconn, 1);
    while (pending > 0) {
        /* Collect whatever is ready; wait on the sockets of the others. */
        int nfds = 0;
        for (int i = 0; i < nconn; i++) {
            if (done[i])
                continue;
            PQconsumeInput(conns[i]);
            while (!done[i] && !PQisBusy(conns[i])) {
                PGresult *res = PQgetResult(conns[i]);
                if (!res) {
                    done[i] = 1;
                    pending--;
                    break;
                }
                if (PQresultStatus(res) != PGRES_TUPLES_OK)
                    die("query failed", conns[i]);
                check += read_cells(res);
                PQclear(res);
            }
            if (!done[i]) {
                fds[nfds] = (struct pollfd){.fd = PQsocket(conns[i]), .events = POLLIN};
                idx[nfds++] = i;
            }
        }
        if (nfds > 0 && poll(fds, (nfds_t)nfds, -1) < 0 && errno != EINTR)
            die("poll failed", NULL);
    }
    int64_t wall = now_ns(CLOCK_MONOTONIC) - t0, cpu = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
    report(wall, cpu, nconn, check);
    for (int i = 0; i < nconn; i++)
        PQfinish(conns[i]);
    free(done);
    free(idx);
    free(fds);
    free(conns);
    return 0;
}

/* The fan-out at scale (benches/suite/fanout_n.rs): NCONN connections made
 * before the measured part; then SQL sent on all and a poll(2) loop over
 * the pending sockets that calls PQconsumeInput only on the readable ones,
 * then PQgetResult while !PQisBusy, until NULL. Measured from the first
 * send to the last result: wall, and the process's CPU (getrusage). */
static int fanout_n(const char *connstr, int nconn, const char *sql) {
    PGconn **conns = calloc((size_t)nconn, sizeof *conns);
    struct pollfd *fds = calloc((size_t)nconn, sizeof *fds);
    int *idx = calloc((size_t)nconn, sizeof *idx);
    if (!conns || !fds || !idx)
        die("out of memory", NULL);
    for (int i = 0; i < nconn; i++)
        conns[i] = connect_or_die(connstr);
    fanout_ready_wait();
    long long results = 0, polls = 0;
    unsigned long long check = 0;
    int64_t t0 = now_ns(CLOCK_MONOTONIC), c0 = fanout_cpu_ns();
    for (int i = 0; i < nconn; i++) {
        if (!PQsendQuery(conns[i], sql))
            die("PQsendQuery failed", conns[i]);
        fds[i] = (struct pollfd){.fd = PQsocket(conns[i]), .events = POLLIN};
        idx[i] = i;
    }
    int pending = nconn;
    while (pending > 0) {
        polls++;
        if (poll(fds, (nfds_t)pending, -1) < 0) {
            if (errno == EINTR)
                continue;
            die("poll failed", NULL);
        }
        int kept = 0;
        for (int k = 0; k < pending; k++) {
            PGconn *conn = conns[idx[k]];
            int done = 0;
            if (fds[k].revents != 0) {
                if (!PQconsumeInput(conn))
                    die("PQconsumeInput failed", conn);
                while (!PQisBusy(conn)) {
                    PGresult *res = PQgetResult(conn);
                    if (!res) {
                        done = 1;
                        break;
                    }
                    if (PQresultStatus(res) != PGRES_TUPLES_OK)
                        die("query failed", conn);
                    results++;
                    check += (unsigned long long)PQntuples(res);
                    PQclear(res);
                }
            }
            if (!done) {
                fds[kept] = (struct pollfd){.fd = fds[k].fd, .events = POLLIN};
                idx[kept++] = idx[k];
            }
        }
        pending = kept;
    }
    int64_t wall = now_ns(CLOCK_MONOTONIC) - t0, cpu = fanout_cpu_ns() - c0;
    printf("RESULT wall_ns=%lld cpu_ns=%lld maxrss_kb=%ld ops=%lld check=%llu libpq=%d waits=%lld\n",
           (long long)wall, (long long)cpu, maxrss_kb(), results, check, PQlibVersion(), polls);
    for (int i = 0; i < nconn; i++)
        PQfinish(conns[i]);
    free(idx);
    free(fds);
    free(conns);
    return 0;
}

static int bulk(const char *connstr, const char *sql, int chunk) {
    PGconn *conn = connect_or_die(connstr);
    unsigned long long check = 0;
    long long rows = 0;
    int64_t t0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    if (chunk <= 0) {
        check = round_trip(conn, sql, &rows);
    } else {
        if (!PQsendQuery(conn, sql))
            die("PQsendQuery failed", conn);
#ifdef LIBPQ_HAS_CHUNK_MODE
        if (!PQsetChunkedRowsMode(conn, chunk))
            die("PQsetChunkedRowsMode failed", conn);
        const ExecStatusType piece = PGRES_TUPLES_CHUNK;
#else
        /* A system libpq older than 17: single-row mode, as pgdblink then uses. */
        if (!PQsetSingleRowMode(conn))
            die("PQsetSingleRowMode failed", conn);
        const ExecStatusType piece = PGRES_SINGLE_TUPLE;
#endif
        PGresult *res;
        while ((res = next_result(conn)) != NULL) {
            ExecStatusType st = PQresultStatus(res);
            if (st != piece && st != PGRES_TUPLES_OK)
                die("query failed", conn);
            check += read_cells(res);
            rows += PQntuples(res);
            PQclear(res);
        }
    }
    int64_t wall = now_ns(CLOCK_MONOTONIC) - t0, cpu = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
    report(wall, cpu, rows, check);
    PQfinish(conn);
    return 0;
}

static int connect_seq(const char *connstr, int n) {
    PGconn **conns = calloc((size_t)n, sizeof *conns);
    if (!conns)
        die("out of memory", NULL);
    int64_t t0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    for (int i = 0; i < n; i++)
        conns[i] = connect_or_die(connstr);
    int64_t wall = now_ns(CLOCK_MONOTONIC) - t0, cpu = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
    report(wall, cpu, n, 0);
    for (int i = 0; i < n; i++)
        PQfinish(conns[i]);
    free(conns);
    return 0;
}

struct worker {
    pthread_t thread;
    PGconn *conn;
    long long n;
    unsigned long long check;
    pthread_barrier_t *start;
};

static void *contention_worker(void *arg) {
    struct worker *w = arg;
    pthread_barrier_wait(w->start);
    for (long long i = 0; i < w->n; i++)
        w->check += round_trip(w->conn, "SELECT 1", NULL);
    return NULL;
}

static int contention(const char *connstr, int threads, long long n) {
    struct worker *ws = calloc((size_t)threads, sizeof *ws);
    pthread_barrier_t start;
    if (!ws || pthread_barrier_init(&start, NULL, (unsigned)threads + 1) != 0)
        die("cannot set up threads", NULL);
    for (int i = 0; i < threads; i++) {
        ws[i].conn = connect_or_die(connstr);
        for (int k = 0; k < 100; k++)
            round_trip(ws[i].conn, "SELECT 1", NULL);
        ws[i].n = n;
        ws[i].start = &start;
        if (pthread_create(&ws[i].thread, NULL, contention_worker, &ws[i]) != 0)
            die("pthread_create failed", NULL);
    }
    pthread_barrier_wait(&start);
    int64_t t0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
    unsigned long long check = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(ws[i].thread, NULL);
        check += ws[i].check;
    }
    int64_t wall = now_ns(CLOCK_MONOTONIC) - t0, cpu = now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
    report(wall, cpu, (long long)threads * n, check);
    for (int i = 0; i < threads; i++)
        PQfinish(ws[i].conn);
    pthread_barrier_destroy(&start);
    free(ws);
    return 0;
}

/* Runs `sql` (no result rows expected), dying on an error. */
static void exec_or_die(PGconn *conn, const char *sql) {
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        die(sql, conn);
    PQclear(res);
}

/* The final result of a COPY (or of any statement): dies unless it is
 * COMMAND_OK; returns its row count; reads the results to the end. */
static long long command_rows(PGconn *conn, const char *what) {
    PGresult *res = PQgetResult(conn);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        die(what, conn);
    long long rows = atoll(PQcmdTuples(res));
    PQclear(res);
    while ((res = PQgetResult(conn)) != NULL)
        PQclear(res);
    return rows;
}

/* `rawpq copy SRC DST TO_SQL FROM_SQL PREP`: what a C programmer writes to
 * move a table between two databases: the COPY TO's rows read with
 * PQgetCopyData (blocking) and each handed to PQputCopyData (blocking
 * connection: libpq sends when its buffer fills), then PQputCopyEnd. */
static int copy_pipe(const char *src, const char *dst, const char *to_sql, const char *from_sql,
                     const char *prep) {
    PGconn *a = connect_or_die(src), *b = connect_or_die(dst);
    exec_or_die(b, prep);
    int64_t t0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    PGresult *res = PQexec(b, from_sql);
    if (PQresultStatus(res) != PGRES_COPY_IN)
        die("COPY FROM STDIN did not start", b);
    PQclear(res);
    res = PQexec(a, to_sql);
    if (PQresultStatus(res) != PGRES_COPY_OUT)
        die("COPY TO STDOUT did not start", a);
    PQclear(res);
    char *buf = NULL;
    int n;
    while ((n = PQgetCopyData(a, &buf, 0)) > 0) {
        if (PQputCopyData(b, buf, n) != 1)
            die("PQputCopyData failed", b);
        PQfreemem(buf);
    }
    if (n == -2)
        die("PQgetCopyData failed", a);
    long long sent = command_rows(a, "COPY TO STDOUT failed");
    if (PQputCopyEnd(b, NULL) != 1)
        die("PQputCopyEnd failed", b);
    long long rows = command_rows(b, "COPY FROM STDIN failed");
    int64_t wall = now_ns(CLOCK_MONOTONIC) - t0, cpu = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
    if (sent != rows)
        die("COPY TO and COPY FROM row counts differ", NULL);
    report(wall, cpu, rows, (unsigned long long)rows);
    PQfinish(a);
    PQfinish(b);
    return 0;
}

/* `rawpq pipeline CONNSTR N BATCH`: N parameterised INSERTs (text
 * parameters) in pipeline mode: BATCH of them queued with
 * PQsendQueryParams, a PQpipelineSync, then their results (each statement's
 * result and its NULL) and the sync point's; check = rows inserted. */
static int pipeline(const char *connstr, long long n, long long batch) {
    PGconn *conn = connect_or_die(connstr);
    exec_or_die(conn, "create temp table bench_ins(a int, b text)");
    if (batch <= 0)
        batch = n;
    const char *sql = "insert into bench_ins values ($1::int, $2)";
    char num[32];
    unsigned long long check = 0;
    int64_t t0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    if (!PQenterPipelineMode(conn))
        die("PQenterPipelineMode failed", conn);
    for (long long i = 0; i < n;) {
        long long end = i + batch < n ? i + batch : n, queued = end - i;
        for (; i < end; i++) {
            snprintf(num, sizeof num, "%lld", i);
            const char *values[2] = {num, "some text"};
            if (!PQsendQueryParams(conn, sql, 2, NULL, values, NULL, NULL, 0))
                die("PQsendQueryParams failed", conn);
        }
        if (!PQpipelineSync(conn))
            die("PQpipelineSync failed", conn);
        for (long long k = 0; k < queued; k++) {
            PGresult *res = PQgetResult(conn);
            if (PQresultStatus(res) != PGRES_COMMAND_OK)
                die("insert failed", conn);
            check += (unsigned long long)atoll(PQcmdTuples(res));
            PQclear(res);
            if ((res = PQgetResult(conn)) != NULL)
                die("more than one result for an insert", conn);
        }
        PGresult *res = PQgetResult(conn);
        if (PQresultStatus(res) != PGRES_PIPELINE_SYNC)
            die("no sync point result", conn);
        PQclear(res);
    }
    if (!PQexitPipelineMode(conn))
        die("PQexitPipelineMode failed", conn);
    int64_t wall = now_ns(CLOCK_MONOTONIC) - t0, cpu = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
    report(wall, cpu, n, check);
    PQfinish(conn);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "latency") == 0)
        return latency(argv[2], atoll(argv[3]));
    if (argc >= 4 && strcmp(argv[1], "insert") == 0)
        return insert(argv[2], atoll(argv[3]));
    if (argc >= 5 && strcmp(argv[1], "fanout") == 0)
        return fanout(argv[2], atoi(argv[3]), argv[4]);
    if (argc >= 5 && strcmp(argv[1], "fanout_n") == 0) {
        fanout_setup(atoi(argv[3]));
        return fanout_n(argv[2], atoi(argv[3]), argv[4]);
    }
    if (argc >= 5 && strcmp(argv[1], "bulk") == 0)
        return bulk(argv[2], argv[3], atoi(argv[4]));
    if (argc >= 4 && strcmp(argv[1], "connect") == 0)
        return connect_seq(argv[2], atoi(argv[3]));
    if (argc >= 5 && strcmp(argv[1], "contention") == 0)
        return contention(argv[2], atoi(argv[3]), atoll(argv[4]));
    if (argc >= 7 && strcmp(argv[1], "copy") == 0)
        return copy_pipe(argv[2], argv[3], argv[4], argv[5], argv[6]);
    if (argc >= 5 && strcmp(argv[1], "pipeline") == 0)
        return pipeline(argv[2], atoll(argv[3]), atoll(argv[4]));
    fprintf(stderr,
            "usage: rawpq latency CONNSTR N | fanout CONNSTR NCONN SQL | fanout_n CONNSTR NCONN SQL |\n"
            "       bulk CONNSTR SQL CHUNK |\n"
            "       connect CONNSTR N | contention CONNSTR THREADS N |\n"
            "       copy SRC DST TO_SQL FROM_SQL PREP | pipeline CONNSTR N BATCH\n");
    return 2;
}
