/* A strict ISO C89 program (tests/c_abi.rs compiles it with -std=c89
 * -pedantic -Werror, and as C++ with -fsyntax-only): the header is usable
 * from C89, and its version macros, SQLSTATE macros and dblink_error agree
 * with the library at run time. Not common.h, which is C11. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgdblink.h"

/* The version macros work in #if, and NUM is MAJOR * 10000 + MINOR * 100 +
 * PATCH. */
#if PGDBLINK_VERSION_NUM != \
    PGDBLINK_VERSION_MAJOR * 10000 + PGDBLINK_VERSION_MINOR * 100 + PGDBLINK_VERSION_PATCH
#error "PGDBLINK_VERSION_NUM is not MAJOR * 10000 + MINOR * 100 + PATCH"
#endif

#define CHECK(cond) check((cond) != 0, #cond, __LINE__)

static void check(int ok, const char *what, int line) {
    if (!ok) {
        const char *err = dblink_last_error();
        fprintf(stderr, "c89.c:%d: CHECK FAILED: %s\n  dblink_last_error()=%s\n", line, what,
                err != NULL ? err : "(null)");
        exit(1);
    }
}

static int same(const char *a, const char *b) {
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

int main(void) {
    const char *dsn = getenv("PGDBLINK_DSN");
    const dblink_error *e;
    dblink_result *r;
    dblink_status st;
    char parts[64];
    int v;

    printf("-- the library is the header's version: %s\n", dblink_version());
    CHECK(dblink_last() == NULL);
    CHECK(same(dblink_version(), PGDBLINK_VERSION));
    sprintf(parts, "%d.%d.%d", PGDBLINK_VERSION_MAJOR, PGDBLINK_VERSION_MINOR,
            PGDBLINK_VERSION_PATCH);
    CHECK(same(parts, PGDBLINK_VERSION));
    /* Static: the same pointer each time. */
    CHECK(dblink_version() == dblink_version());

    v = dblink_libpq_version();
    printf("-- libpq %d.%d (%d)\n", v / 10000, v % 10000, v);
    CHECK(v / 10000 >= 10 && v % 10000 < 100);
    CHECK(dblink_last() == NULL);

    printf("-- the version calls leave an error in place; dblink_last() has it\n");
    CHECK(dblink_disconnect("c89_none") == -1);
    e = dblink_last();
    CHECK(e != NULL);
    CHECK(same(e->sqlstate, DBLINK_SQLSTATE_CONNECTION_DOES_NOT_EXIST));
    CHECK(same(e->message, "connection \"c89_none\" not available"));
    CHECK(e->detail == NULL && e->hint == NULL && e->context == NULL);
    CHECK(dblink_version() != NULL);
    CHECK(dblink_libpq_version() == v);
    CHECK(dblink_last() == e);
    CHECK(strlen(DBLINK_SQLSTATE_INTERNAL_ERROR) == 5);

    printf("-- a query from C89\n");
    CHECK(dsn != NULL);
    CHECK(dblink_connect("c89", dsn) == 1);
    CHECK(dblink_last() == NULL);
    r = dblink("c89", "select 'from c89' as greeting", 1);
    st = dblink_result_status(r);
    CHECK(st == DBLINK_STATUS_TUPLES);
    CHECK(same(dblink_result_fname(r, 0), "greeting"));
    CHECK(same(dblink_result_getvalue(r, 0, 0), "from c89"));
    dblink_result_free(r);
    CHECK(dblink_disconnect("c89") == 1);

    printf("c89: all checks passed\n");
    return 0;
}
