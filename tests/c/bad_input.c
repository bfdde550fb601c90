/* Bad input through the C API: NULL for every pointer argument of every
 * function in the header, invalid UTF-8, the empty name, a 1 MiB SQL
 * string and a 1 MiB name (truncated to 63 bytes as dblink does), out of
 * range row/column indexes, NULL results in the accessors, and the last
 * error being cleared by a successful call. Nothing may crash; every
 * failure of a call that can fail gives -1/NULL with a message and a
 * SQLSTATE; the accessors and frees give their failure value and leave the
 * last error alone (tests/c/last_error.c has those rules in full). */
#include "common.h"

#include <limits.h>

#define NOT_NULL "22004"
#define NOT_UTF8 "22021"
#define BAD_VALUE "22023"

/* Checks the 22004 `<what> must not be NULL` error of the last call. */
#define CHECK_NULL_ARG(what) CHECK_ERROR(NOT_NULL, what " must not be NULL")

/* Checks the 22021 invalid-UTF-8 error of the last call (offset 0). */
#define CHECK_NOT_UTF8(what) \
    CHECK_ERROR(NOT_UTF8, what " is not valid UTF-8 (invalid byte at offset 0)")

/* Checks an out-of-range error of the last call: 22023 with a message. */
#define CHECK_OUT_OF_RANGE()                                                   \
    do {                                                                       \
        CHECK_STR(dblink_last_sqlstate(), BAD_VALUE);                          \
        CHECK(dblink_last_error() != NULL && strlen(dblink_last_error()) > 0); \
    } while (0)

/* Sets a known last error (08003 for an unknown name). */
static void make_error(void) {
    CHECK_INT(dblink_is_busy("no_such_connection"), -1);
    CHECK_ERROR("08003", "connection \"no_such_connection\" not available");
}

/* Checks that the error make_error() set is still there: an accessor or a
 * free left it alone. */
#define CHECK_KEPT() CHECK_ERROR("08003", "connection \"no_such_connection\" not available")

static const char *const BAD = "\xff\xfe";

/* The first text an accessor wrote to stderr (NULL: none). */
static char *accessor_stderr = NULL;

/* Every accessor on `r` with out-of-range indexes: NULL / -1, and the last
 * error untouched. */
static void check_bad_indexes(const dblink_result *r) {
    stderr_capture_begin();
    const int nrows = dblink_result_ntuples(r);
    const int ncols = dblink_result_nfields(r);
    const int rows[] = {-1, INT_MIN, nrows, nrows + 1, INT_MAX, 0};
    const int cols[] = {-1, INT_MIN, ncols, ncols + 1, INT_MAX, 0};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        for (size_t j = 0; j < sizeof cols / sizeof cols[0]; j++) {
            int in_range = rows[i] >= 0 && rows[i] < nrows && cols[j] >= 0 && cols[j] < ncols;
            if (in_range) {
                continue;
            }
            make_error();
            CHECK(dblink_result_getvalue(r, rows[i], cols[j]) == NULL);
            CHECK_KEPT();
            CHECK_INT(dblink_result_getisnull(r, rows[i], cols[j]), -1);
            CHECK_KEPT();
        }
    }
    for (size_t j = 0; j < sizeof cols / sizeof cols[0]; j++) {
        if (cols[j] >= 0 && cols[j] < ncols) {
            continue;
        }
        CHECK(dblink_result_fname(r, cols[j]) == NULL);
        CHECK_KEPT();
    }
    /* libpq prints "column number N is out of range" to stderr when asked
     * for a column it does not have; pgdblink must check first. Checked at
     * the end of main, so that the other checks still run. */
    char *text = stderr_capture_end();
    if (text[0] != '\0' && accessor_stderr == NULL) {
        accessor_stderr = text;
    } else {
        free(text);
    }
}

int main(void) {
    const char *dsn = test_dsn();
    dblink_result *r;
    const char *const one_null[1] = {NULL};
    const char *const one_bad[1] = {"\xff\xfe"};

    /* A named connection for the argument checks that need one. */
    CHECK_INT(dblink_connect("b", dsn), 1);

    STEP("free functions ignore NULL and leave the last error alone");
    make_error();
    dblink_free(NULL);
    CHECK_KEPT();
    dblink_free_strings(NULL);
    CHECK_KEPT();
    dblink_result_free(NULL);
    CHECK_KEPT();

    STEP("result accessors with a NULL result -> -1 / NULL / ERROR status, last error untouched");
    make_error();
    CHECK_INT(dblink_result_ntuples(NULL), -1);
    CHECK_KEPT();
    CHECK_INT(dblink_result_nfields(NULL), -1);
    CHECK_KEPT();
    CHECK(dblink_result_fname(NULL, 0) == NULL);
    CHECK_KEPT();
    CHECK(dblink_result_getvalue(NULL, 0, 0) == NULL);
    CHECK_KEPT();
    CHECK_INT(dblink_result_getisnull(NULL, 0, 0), -1);
    CHECK_KEPT();
    CHECK_INT(dblink_result_status(NULL), DBLINK_STATUS_ERROR);
    CHECK_KEPT();
    CHECK(dblink_result_error_message(NULL) == NULL);
    CHECK_KEPT();
    CHECK(dblink_result_sqlstate(NULL) == NULL);
    CHECK_KEPT();
    /* Negative indexes with a NULL result: the failure value, no crash. */
    CHECK(dblink_result_getvalue(NULL, -1, -1) == NULL);
    CHECK_KEPT();
    CHECK_INT(dblink_result_getisnull(NULL, INT_MIN, INT_MAX), -1);
    CHECK_KEPT();
    /* Without a last error, a bad argument records none. */
    CHECK_INT(dblink_is_busy("b"), 0);
    CHECK_INT(dblink_result_ntuples(NULL), -1);
    CHECK(dblink_result_getvalue(NULL, -1, -1) == NULL);
    CHECK_NO_ERROR();

    STEP("NULL required string arguments -> 22004 `<arg> must not be NULL`");
    CHECK_INT(dblink_connect("b2", NULL), -1);
    CHECK_NULL_ARG("connstr");
    CHECK_INT(dblink_connect(NULL, NULL), -1);
    CHECK_NULL_ARG("connstr");
    CHECK_INT(dblink_connect_u("b2", NULL), -1);
    CHECK_NULL_ARG("connstr");
    CHECK_INT(dblink_connect_u(NULL, NULL), -1);
    CHECK_NULL_ARG("connstr");
    CHECK_INT(dblink_connect_timeout("b2", NULL, 1000), -1);
    CHECK_NULL_ARG("connstr");
    CHECK_INT(dblink_send_query("b", NULL), -1);
    CHECK_NULL_ARG("sql");
    CHECK_INT(dblink_send_query_params("b", NULL, 0, NULL), -1);
    CHECK_NULL_ARG("sql");
    CHECK_INT(dblink_send_query_chunked("b", NULL, 10), -1);
    CHECK_NULL_ARG("sql");
    CHECK(dblink("b", NULL, 1) == NULL);
    CHECK_NULL_ARG("sql");
    CHECK(dblink_params("b", NULL, 0, NULL, 1) == NULL);
    CHECK_NULL_ARG("sql");
    CHECK(dblink_exec("b", NULL, 1) == NULL);
    CHECK_NULL_ARG("sql");
    CHECK(dblink_open("b", NULL, "select 1", 1) == NULL);
    CHECK_NULL_ARG("cursorname");
    CHECK(dblink_open("b", "c", NULL, 1) == NULL);
    CHECK_NULL_ARG("sql");
    CHECK(dblink_fetch("b", NULL, 1, 1) == NULL);
    CHECK_NULL_ARG("cursorname");
    CHECK(dblink_close("b", NULL, 1) == NULL);
    CHECK_NULL_ARG("cursorname");
    /* The connection is still usable and nothing is in progress. */
    CHECK_INT(dblink_is_busy("b"), 0);
    CHECK_STR_AND_FREE(dblink_error_message("b"), "OK");

    STEP("NULL arrays: params, wait_any/wait_all, connect_all");
    CHECK_INT(dblink_send_query_params("b", "select $1", 1, NULL), -1);
    CHECK_NULL_ARG("parameter");
    CHECK(dblink_params("b", "select $1", 1, NULL, 1) == NULL);
    CHECK_NULL_ARG("parameter");
    CHECK_INT(dblink_send_query_params("b", "select 1", -1, NULL), -1);
    CHECK(dblink_last_sqlstate() != NULL);
    CHECK(dblink_params("b", "select 1", INT_MIN, NULL, 1) == NULL);
    CHECK(dblink_last_sqlstate() != NULL);
    CHECK_INT(dblink_wait_any(NULL, 1, 0), -1);
    CHECK_NULL_ARG("name");
    CHECK_INT(dblink_wait_any(one_null, 1, 0), -1);
    CHECK_NULL_ARG("name");
    CHECK_INT(dblink_wait_any(NULL, -1, 0), -1);
    CHECK(dblink_last_sqlstate() != NULL);
    CHECK_INT(dblink_wait_all(NULL, 1, 0), -1);
    CHECK_NULL_ARG("name");
    CHECK_INT(dblink_wait_all(one_null, 1, 0), -1);
    CHECK_NULL_ARG("name");
    CHECK_INT(dblink_wait_all(NULL, -1, 0), -1);
    CHECK(dblink_last_sqlstate() != NULL);
    {
        const char *const names[1] = {"ca"};
        const char *const connstrs[1] = {dsn};
        int ok[1] = {7};
        CHECK_INT(dblink_connect_all(NULL, connstrs, 1, 5000, ok), -1);
        CHECK_NULL_ARG("name");
        CHECK_INT(ok[0], 7);
        CHECK_INT(dblink_connect_all(names, NULL, 1, 5000, ok), -1);
        CHECK_NULL_ARG("connstr");
        CHECK_INT(dblink_connect_all(one_null, connstrs, 1, 5000, ok), -1);
        CHECK_NULL_ARG("name");
        CHECK_INT(dblink_connect_all(names, one_null, 1, 5000, NULL), -1);
        CHECK_NULL_ARG("connstr");
        CHECK_INT(dblink_connect_all(names, connstrs, -1, 5000, NULL), -1);
        CHECK(dblink_last_sqlstate() != NULL);
        /* n = 0: nothing to open, NULL arrays allowed. */
        CHECK_INT(dblink_connect_all(NULL, NULL, 0, 5000, NULL), 0);
        CHECK_NO_ERROR();
        /* ok = NULL is allowed. */
        CHECK_INT(dblink_connect_all(names, connstrs, 1, 5000, NULL), 1);
        CHECK_NO_ERROR();
        CHECK_INT(dblink_disconnect("ca"), 1);
    }
    /* No connection got registered by the failed calls. */
    {
        char **names = dblink_get_connections();
        CHECK(names != NULL);
        CHECK_STR(names[0], "b");
        CHECK(names[1] == NULL);
        dblink_free_strings(names);
    }

    STEP("NULL connname = the unnamed connection: absent -> 08003 connection not available");
    CHECK_INT(dblink_send_query(NULL, "select 1"), -1);
    CHECK_ERROR("08003", "connection not available");
    CHECK_INT(dblink_send_query_params(NULL, "select 1", 0, NULL), -1);
    CHECK_ERROR("08003", "connection not available");
    CHECK_INT(dblink_send_query_chunked(NULL, "select 1", 10), -1);
    CHECK_ERROR("08003", "connection not available");
    CHECK_INT(dblink_is_busy(NULL), -1);
    CHECK_ERROR("08003", "connection not available");
    CHECK(dblink_get_result(NULL, 1) == NULL);
    CHECK_ERROR("08003", "connection not available");
    CHECK(dblink_get_result_timeout(NULL, 1, 0) == NULL);
    CHECK_ERROR("08003", "connection not available");
    CHECK(dblink_cancel_query(NULL) == NULL);
    CHECK_ERROR("08003", "connection not available");
    CHECK(dblink_cancel_query_timeout(NULL, 1000) == NULL);
    CHECK_ERROR("08003", "connection not available");
    CHECK(dblink_error_message(NULL) == NULL);
    CHECK_ERROR("08003", "connection not available");
    CHECK_INT(dblink_socket(NULL), -1);
    CHECK_ERROR("08003", "connection not available");
    CHECK_INT(dblink_consume_input(NULL), -1);
    CHECK_ERROR("08003", "connection not available");
    CHECK_INT(dblink_reset(NULL), -1);
    CHECK_ERROR("08003", "connection not available");
    CHECK_INT(dblink_disconnect(NULL), -1);
    CHECK_ERROR("08003", "connection not available");
    CHECK(dblink(NULL, "select 1", 0) == NULL);
    CHECK_ERROR("08003", "connection not available");
    CHECK(dblink_params(NULL, "select 1", 0, NULL, 0) == NULL);
    CHECK_ERROR("08003", "connection not available");
    CHECK(dblink_exec(NULL, "set search_path = public", 0) == NULL);
    CHECK_ERROR("08003", "connection not available");
    CHECK(dblink_open(NULL, "c", "select 1", 0) == NULL);
    CHECK_ERROR("08003", "connection not available");
    CHECK(dblink_fetch(NULL, "c", 1, 0) == NULL);
    CHECK_ERROR("08003", "connection not available");
    CHECK(dblink_close(NULL, "c", 0) == NULL);
    CHECK_ERROR("08003", "connection not available");
    /* dblink_get_notify() without an unnamed connection: the empty set. */
    make_error();
    r = dblink_get_notify(NULL);
    CHECK_NO_ERROR();
    CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 0, 3);
    dblink_result_free(r);

    STEP("NULL connname with an unnamed connection: it is used");
    CHECK_INT(dblink_connect(NULL, dsn), 1);
    CHECK_INT(dblink_is_busy(NULL), 0);
    CHECK(dblink_socket(NULL) >= 0);
    CHECK_INT(dblink_consume_input(NULL), 1);
    CHECK_STR_AND_FREE(dblink_error_message(NULL), "OK");
    CHECK_INT(dblink_send_query(NULL, "select 'unnamed'"), 1);
    r = dblink_get_result(NULL, 1);
    CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 1);
    CHECK_STR(dblink_result_getvalue(r, 0, 0), "unnamed");
    dblink_result_free(r);
    CHECK_DONE_AND_FREE(dblink_get_result(NULL, 1));
    CHECK_STR_AND_FREE(dblink_cancel_query(NULL), "OK");
    CHECK_INT(dblink_reset(NULL), 1);
    CHECK_INT(dblink_disconnect(NULL), 1);
    CHECK_NO_ERROR();

    STEP("invalid UTF-8 names / sql / connstr / cursor names / params -> 22021");
    CHECK_INT(dblink_connect(BAD, dsn), -1);
    CHECK_NOT_UTF8("connname");
    CHECK_INT(dblink_connect("b3", BAD), -1);
    CHECK_NOT_UTF8("connstr");
    CHECK_INT(dblink_connect_u(BAD, dsn), -1);
    CHECK_NOT_UTF8("connname");
    CHECK_INT(dblink_connect_timeout("b3", BAD, 1000), -1);
    CHECK_NOT_UTF8("connstr");
    CHECK_INT(dblink_disconnect(BAD), -1);
    CHECK_NOT_UTF8("connname");
    CHECK_INT(dblink_send_query(BAD, "select 1"), -1);
    CHECK_NOT_UTF8("connname");
    CHECK_INT(dblink_send_query("b", BAD), -1);
    CHECK_NOT_UTF8("sql");
    CHECK_INT(dblink_send_query_params("b", "select $1", 1, one_bad), -1);
    CHECK_NOT_UTF8("parameter");
    CHECK_INT(dblink_send_query_chunked("b", BAD, 1), -1);
    CHECK_NOT_UTF8("sql");
    CHECK_INT(dblink_is_busy(BAD), -1);
    CHECK_NOT_UTF8("connname");
    CHECK(dblink_get_result(BAD, 0) == NULL);
    CHECK_NOT_UTF8("connname");
    CHECK(dblink_get_result_timeout(BAD, 0, 0) == NULL);
    CHECK_NOT_UTF8("connname");
    CHECK(dblink_cancel_query(BAD) == NULL);
    CHECK_NOT_UTF8("connname");
    CHECK(dblink_cancel_query_timeout(BAD, 10) == NULL);
    CHECK_NOT_UTF8("connname");
    CHECK(dblink_error_message(BAD) == NULL);
    CHECK_NOT_UTF8("connname");
    CHECK(dblink_get_notify(BAD) == NULL);
    CHECK_NOT_UTF8("connname");
    CHECK_INT(dblink_socket(BAD), -1);
    CHECK_NOT_UTF8("connname");
    CHECK_INT(dblink_consume_input(BAD), -1);
    CHECK_NOT_UTF8("connname");
    CHECK_INT(dblink_reset(BAD), -1);
    CHECK_NOT_UTF8("connname");
    CHECK_INT(dblink_wait_any(one_bad, 1, 0), -1);
    CHECK_NOT_UTF8("name");
    CHECK_INT(dblink_wait_all(one_bad, 1, 0), -1);
    CHECK_NOT_UTF8("name");
    CHECK(dblink(BAD, "select 1", 1) == NULL);
    CHECK_NOT_UTF8("conn_or_connstr");
    CHECK(dblink("b", BAD, 1) == NULL);
    CHECK_NOT_UTF8("sql");
    CHECK(dblink_params("b", "select $1", 1, one_bad, 1) == NULL);
    CHECK_NOT_UTF8("parameter");
    CHECK(dblink_exec(BAD, "select 1", 1) == NULL);
    CHECK_NOT_UTF8("conn_or_connstr");
    CHECK(dblink_exec("b", BAD, 1) == NULL);
    CHECK_NOT_UTF8("sql");
    CHECK(dblink_open(BAD, "c", "select 1", 1) == NULL);
    CHECK_NOT_UTF8("connname");
    CHECK(dblink_open("b", BAD, "select 1", 1) == NULL);
    CHECK_NOT_UTF8("cursorname");
    CHECK(dblink_open("b", "c", BAD, 1) == NULL);
    CHECK_NOT_UTF8("sql");
    CHECK(dblink_fetch(BAD, "c", 1, 1) == NULL);
    CHECK_NOT_UTF8("connname");
    CHECK(dblink_fetch("b", BAD, 1, 1) == NULL);
    CHECK_NOT_UTF8("cursorname");
    CHECK(dblink_close(BAD, "c", 1) == NULL);
    CHECK_NOT_UTF8("connname");
    CHECK(dblink_close("b", BAD, 1) == NULL);
    CHECK_NOT_UTF8("cursorname");
    {
        const char *const names[1] = {BAD};
        const char *const connstrs[1] = {dsn};
        CHECK_INT(dblink_connect_all(names, connstrs, 1, 5000, NULL), -1);
        CHECK_NOT_UTF8("name");
    }
    /* Still nothing in progress on 'b', nothing new registered. */
    CHECK_INT(dblink_is_busy("b"), 0);
    {
        char **names = dblink_get_connections();
        CHECK(names != NULL);
        CHECK_STR(names[0], "b");
        CHECK(names[1] == NULL);
        dblink_free_strings(names);
    }

    STEP("the empty name '' is a valid, distinct name");
    CHECK_INT(dblink_is_busy(""), -1);
    CHECK_ERROR("08003", "connection \"\" not available");
    CHECK_INT(dblink_connect("", dsn), 1);
    CHECK_INT(dblink_send_query("", "select 'empty'"), 1);
    r = dblink_get_result("", 1);
    CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 1);
    CHECK_STR(dblink_result_getvalue(r, 0, 0), "empty");
    dblink_result_free(r);
    CHECK_DONE_AND_FREE(dblink_get_result("", 1));
    /* It is not the unnamed connection. */
    CHECK_INT(dblink_is_busy(NULL), -1);
    CHECK_ERROR("08003", "connection not available");
    CHECK_INT(dblink_disconnect(""), 1);

    STEP("a 1 MiB SQL string: select of a 1 MiB literal returns it");
    {
        const size_t n = 1024 * 1024;
        char *sql = malloc(n + 32);
        CHECK(sql != NULL);
        strcpy(sql, "select '");
        size_t off = strlen(sql);
        memset(sql + off, 'x', n);
        strcpy(sql + off + n, "'");
        r = dblink("b", sql, 1);
        CHECK_NO_ERROR();
        CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 1);
        const char *v = dblink_result_getvalue(r, 0, 0);
        CHECK(v != NULL);
        CHECK_INT(strlen(v), n);
        CHECK(v[0] == 'x' && v[n - 1] == 'x');
        dblink_result_free(r);
        /* The same through send_query / get_result. */
        CHECK_INT(dblink_send_query("b", sql), 1);
        r = dblink_get_result("b", 1);
        CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 1);
        CHECK_INT(strlen(dblink_result_getvalue(r, 0, 0)), n);
        dblink_result_free(r);
        CHECK_DONE_AND_FREE(dblink_get_result("b", 1));
        free(sql);
    }

    STEP("a 1 MiB name: truncated to its 63-byte prefix, as dblink does");
    {
        const size_t n = 1024 * 1024;
        char *name = malloc(n + 1);
        CHECK(name != NULL);
        for (size_t i = 0; i < n; i++) {
            name[i] = (char)('a' + i % 26);
        }
        name[n] = '\0';
        char prefix[64];
        memcpy(prefix, name, 63);
        prefix[63] = '\0';
        CHECK_INT(dblink_connect(name, dsn), 1);
        CHECK_NO_ERROR();
        char **names = dblink_get_connections();
        CHECK(names != NULL);
        /* Sorted: "abc..." before "b". */
        CHECK_STR(names[0], prefix);
        CHECK_STR(names[1], "b");
        CHECK(names[2] == NULL);
        dblink_free_strings(names);
        /* The long name and its prefix reach the same connection. */
        CHECK_INT(dblink_connect(prefix, dsn), -1);
        CHECK_ERROR("42710", "duplicate connection name");
        r = dblink(name, "select 'long'", 1);
        CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 1);
        CHECK_STR(dblink_result_getvalue(r, 0, 0), "long");
        dblink_result_free(r);
        CHECK_INT(dblink_is_busy(prefix), 0);
        /* A missing long name is reported with its truncated form. */
        name[0] = 'Z';
        CHECK_INT(dblink_is_busy(name), -1);
        CHECK_STR(dblink_last_sqlstate(), "08003");
        name[0] = 'a';
        CHECK_INT(dblink_disconnect(name), 1);
        CHECK_INT(dblink_disconnect(prefix), -1);
        CHECK_STR(dblink_last_sqlstate(), "08003");
        free(name);
    }

    STEP("a long name whose 63rd byte splits a UTF-8 character: cut before it");
    {
        /* 62 ASCII bytes, then U+00E9 (2 bytes), then more. */
        char name[80];
        memset(name, 'm', 62);
        strcpy(name + 62, "\xc3\xa9tail");
        char prefix[63];
        memset(prefix, 'm', 62);
        prefix[62] = '\0';
        CHECK_INT(dblink_connect(name, dsn), 1);
        CHECK_NO_ERROR();
        char **names = dblink_get_connections();
        CHECK(names != NULL);
        CHECK_STR(names[0], "b");
        CHECK_STR(names[1], prefix);
        CHECK(names[2] == NULL);
        dblink_free_strings(names);
        CHECK_INT(dblink_disconnect(name), 1);
    }

    STEP("out-of-range indexes in every accessor -> NULL / -1, last error untouched");
    r = dblink("b", "select 1 as a, null::text as b", 1);
    CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 2);
    check_bad_indexes(r);
    dblink_result_free(r);
    r = dblink("b", "select 1 as a where false", 1);
    CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 0, 1);
    check_bad_indexes(r);
    CHECK_STR(dblink_result_fname(r, 0), "a");
    dblink_result_free(r);
    r = dblink("b", "create temp table t(x int)", 1);
    CHECK_RESULT(r, DBLINK_STATUS_COMMAND, 1, 1);
    check_bad_indexes(r);
    dblink_result_free(r);
    r = dblink_get_result("b", 1);
    CHECK_RESULT(r, DBLINK_STATUS_DONE, 0, 0);
    check_bad_indexes(r);
    dblink_result_free(r);
    r = dblink("b", "select 1/0", 0);
    CHECK_RESULT(r, DBLINK_STATUS_ERROR, 0, 0);
    check_bad_indexes(r);
    dblink_result_free(r);
    r = dblink_get_notify("b");
    CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 0, 3);
    check_bad_indexes(r);
    dblink_result_free(r);

    STEP("odd integers: fetch counts, chunk sizes, timeouts -> a result or an error, no crash");
    CHECK_STR_AND_FREE(dblink_open("b", "c", "select g from generate_series(1,3) g", 1), "OK");
    r = dblink_fetch("b", "c", INT_MIN, 0);
    CHECK(r != NULL || dblink_last_sqlstate() != NULL);
    dblink_result_free(r);
    CHECK_STR_AND_FREE(dblink_exec("b", "rollback", 1), "ROLLBACK");
    CHECK_INT(dblink_send_query_chunked("b", "select 1", -1), -1);
    CHECK_OUT_OF_RANGE();
    CHECK_INT(dblink_is_busy("b"), 0);
    /* timeout 0: do not wait; nothing was sent, so the result is at hand. */
    r = dblink_get_result_timeout("b", 1, 0);
    CHECK_DONE_AND_FREE(r);
    /* -1 is "no timeout"; any other negative value is refused (22023). */
    r = dblink_get_result_timeout("b", 1, -1);
    CHECK_DONE_AND_FREE(r);
    r = dblink_get_result_timeout("b", 1, INT_MIN);
    CHECK(r == NULL);
    CHECK_STR(dblink_last_sqlstate(), "22023");

    STEP("last error is cleared by a successful call");
    make_error();
    CHECK_INT(dblink_is_busy("b"), 0);
    CHECK_NO_ERROR();
    make_error();
    {
        char **names = dblink_get_connections();
        CHECK_NO_ERROR();
        dblink_free_strings(names);
    }
    /* ... but not by an accessor, which cannot fail in that sense. */
    r = dblink("b", "select 1", 1);
    make_error();
    CHECK_INT(dblink_result_ntuples(r), 1);
    CHECK_KEPT();
    CHECK_STR(dblink_result_getvalue(r, 0, 0), "1");
    CHECK_KEPT();
    dblink_result_free(r);
    CHECK_KEPT();
    /* dblink_disconnect_all never fails, so it leaves the error too. */
    dblink_disconnect_all();
    CHECK_KEPT();
    CHECK(dblink_get_connections() == NULL);
    CHECK_NO_ERROR();

    STEP("the result accessors wrote nothing to stderr");
    if (accessor_stderr != NULL) {
        fprintf(stderr, "  written to stderr by an accessor:\n%s", accessor_stderr);
    }
    CHECK(accessor_stderr == NULL);

    printf("bad_input: all checks passed\n");
    return 0;
}
