/*
 * two_libpqs: a C host that uses the system's libpq itself and pgdblink
 * (with the libpq it links: bundled, or the system's) in one process.
 * tests/packaging.rs links it against the installed libpgdblink, shared and
 * static, with -lpq before and after it, and checks what it prints:
 *
 *   host PQlibVersion <n>         the host's own PQlibVersion()
 *   host query host               a query through the host's libpq
 *   pgdblink query pgdblink       a query through pgdblink
 *   pgdblink cancel OK            dblink_cancel_query (libpq 17's cancel API
 *                                 when bundled: absent from an older system libpq)
 *   dblink_libpq_version <n>      the libpq inside pgdblink
 *   dblink_version <text>         pgdblink's version
 *
 * A bundled libpq whose PQ* symbols leaked out of libpgdblink would answer
 * the host's PQlibVersion (or the system's would answer pgdblink's calls).
 * Connects to $PGDBLINK_DSN. Exits 1 at the first failure.
 */
#include <stdio.h>
#include <stdlib.h>

#include <libpq-fe.h>
#include <pgdblink.h>

/* Where this include/pgdblink.h does not declare them yet (the test passes
 * -DDECLARE_...), they are declared weak, so that the program still links
 * and says which one is missing. */
#ifdef DECLARE_DBLINK_LIBPQ_VERSION
extern int dblink_libpq_version(void) __attribute__((weak));
#define HAS_LIBPQ_VERSION (dblink_libpq_version != NULL)
#else
#define HAS_LIBPQ_VERSION 1
#endif
#ifdef DECLARE_DBLINK_VERSION
extern const char *dblink_version(void) __attribute__((weak));
#define HAS_VERSION (dblink_version != NULL)
#else
#define HAS_VERSION 1
#endif

static int fail(const char *what, const char *why) {
    fprintf(stderr, "two_libpqs: %s: %s\n", what, why ? why : "(no message)");
    return 1;
}

int main(void) {
    const char *dsn = getenv("PGDBLINK_DSN");
    if (dsn == NULL)
        return fail("PGDBLINK_DSN", "not set");

    printf("host PQlibVersion %d\n", PQlibVersion());
    PGconn *conn = PQconnectdb(dsn);
    if (PQstatus(conn) != CONNECTION_OK)
        return fail("host PQconnectdb", PQerrorMessage(conn));
    PGresult *res = PQexec(conn, "select 'host'");
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        return fail("host PQexec", PQerrorMessage(conn));
    printf("host query %s\n", PQgetvalue(res, 0, 0));
    PQclear(res);

    if (dblink_connect("two_libpqs", dsn) != 1)
        return fail("dblink_connect", dblink_last_error());
    dblink_result *r = dblink("two_libpqs", "select 'pgdblink'", 1);
    if (r == NULL)
        return fail("dblink", dblink_last_error());
    printf("pgdblink query %s\n", dblink_result_getvalue(r, 0, 0));
    dblink_result_free(r);
    char *answer = dblink_cancel_query("two_libpqs");
    if (answer == NULL)
        return fail("dblink_cancel_query", dblink_last_error());
    printf("pgdblink cancel %s\n", answer);
    dblink_free(answer);
    if (dblink_disconnect("two_libpqs") != 1)
        return fail("dblink_disconnect", dblink_last_error());

    /* The host's connection still works after pgdblink's came and went. */
    res = PQexec(conn, "select 1");
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        return fail("host PQexec after pgdblink", PQerrorMessage(conn));
    PQclear(res);
    PQfinish(conn);

    if (HAS_LIBPQ_VERSION)
        printf("dblink_libpq_version %d\n", dblink_libpq_version());
    else
        printf("dblink_libpq_version missing\n");
    if (HAS_VERSION)
        printf("dblink_version %s\n", dblink_version());
    else
        printf("dblink_version missing\n");
    return 0;
}
