/* The synchronous functions through the C API: dblink() rows and status
 * rows, dblink_exec status texts and 'ERROR', 2F003 for a query, a connstr
 * as first argument, remote DETAIL/HINT/CONTEXT, cursors
 * (open/fetch/close, fetch past the end, a missing cursor), the unnamed
 * connection and dblink_connect_u. */
#include "common.h"

int main(void) {
    const char *dsn = test_dsn();
    dblink_result *r;

    STEP("dblink_connect_u 's' -> 1");
    CHECK_INT(dblink_connect_u("s", dsn), 1);
    CHECK_NO_ERROR();
    CHECK_INT(dblink_connect_u("s", dsn), -1);
    CHECK_ERROR("42710", "duplicate connection name");

    STEP("dblink rows: 3 rows x 2 columns with their names");
    r = dblink("s", "select g as i, g::text || 'x' as s from generate_series(1,3) g", 1);
    CHECK_NO_ERROR();
    CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 3, 2);
    CHECK_STR(dblink_result_fname(r, 0), "i");
    CHECK_STR(dblink_result_fname(r, 1), "s");
    CHECK_STR(dblink_result_getvalue(r, 0, 0), "1");
    CHECK_STR(dblink_result_getvalue(r, 0, 1), "1x");
    CHECK_STR(dblink_result_getvalue(r, 2, 0), "3");
    CHECK_STR(dblink_result_getvalue(r, 2, 1), "3x");
    CHECK_STR(dblink_result_error_message(r), NULL);
    CHECK_STR(dblink_result_sqlstate(r), NULL);
    dblink_result_free(r);

    STEP("dblink of zero rows -> TUPLES, 0 rows");
    r = dblink("s", "select 1 as x where false", 1);
    CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 0, 1);
    CHECK_STR(dblink_result_fname(r, 0), "x");
    dblink_result_free(r);

    STEP("dblink of a command -> COMMAND, one row 'status' = CREATE TABLE");
    r = dblink("s", "create temp table t(x int)", 1);
    CHECK_RESULT(r, DBLINK_STATUS_COMMAND, 1, 1);
    CHECK_STR(dblink_result_fname(r, 0), "status");
    CHECK_STR(dblink_result_getvalue(r, 0, 0), "CREATE TABLE");
    dblink_result_free(r);

    STEP("dblink_exec status texts");
    CHECK_STR_AND_FREE(dblink_exec("s", "insert into t values (1),(2)", 1), "INSERT 0 2");
    CHECK_NO_ERROR();
    CHECK_STR_AND_FREE(dblink_exec("s", "update t set x = x + 1", 0), "UPDATE 2");
    CHECK_STR_AND_FREE(dblink_exec("s", "begin", 1), "BEGIN");
    CHECK_STR_AND_FREE(dblink_exec("s", "commit", 1), "COMMIT");
    CHECK_STR_AND_FREE(dblink_exec("s", "select 1; create temp table t5(x int)", 1),
                       "CREATE TABLE");

    STEP("dblink_exec of a SELECT -> NULL 2F003 (with fail=1 and fail=0)");
    CHECK(dblink_exec("s", "select 1", 1) == NULL);
    CHECK_ERROR("2F003", "statement returning results not allowed");
    CHECK_STR(dblink_last_context(), NULL);
    CHECK(dblink_exec("s", "select 1 where false", 0) == NULL);
    CHECK_ERROR("2F003", "statement returning results not allowed");
    /* dblink's own errors do not touch libpq's message. */
    CHECK_STR_AND_FREE(dblink_error_message("s"), "OK");

    STEP("dblink_exec remote error: fail=0 -> 'ERROR'; fail=1 -> NULL 22012 with context");
    CHECK_STR_AND_FREE(dblink_exec("s", "select 1/0", 0), "ERROR");
    CHECK_NO_ERROR();
    CHECK_STR_AND_FREE(dblink_error_message("s"), "ERROR:  division by zero");
    CHECK(dblink_exec("s", "select 1/0", 1) == NULL);
    CHECK_ERROR("22012", "division by zero");
    CHECK_STR(dblink_last_context(), "while executing command on dblink connection named \"s\"");

    STEP("dblink remote error: fail=1 -> NULL 22012; fail=0 -> ERROR result");
    CHECK(dblink("s", "select 1/0", 1) == NULL);
    CHECK_ERROR("22012", "division by zero");
    CHECK_STR(dblink_last_context(), "while executing query on dblink connection named \"s\"");
    r = dblink("s", "select 1/0", 0);
    CHECK_NO_ERROR();
    CHECK_RESULT(r, DBLINK_STATUS_ERROR, 0, 0);
    CHECK_STR(dblink_result_sqlstate(r), "22012");
    CHECK_STR(dblink_result_error_message(r), "division by zero");
    dblink_result_free(r);

    STEP("dblink 'select 1; select 1/0; select 3' fail=0 -> ERROR result holding the row 1");
    r = dblink("s", "select 1; select 1/0; select 3", 0);
    CHECK_RESULT(r, DBLINK_STATUS_ERROR, 1, 1);
    CHECK_STR(dblink_result_getvalue(r, 0, 0), "1");
    CHECK_STR(dblink_result_sqlstate(r), "22012");
    dblink_result_free(r);

    STEP("empty query -> 08006 could not obtain message string for remote error");
    CHECK(dblink("s", "", 1) == NULL);
    CHECK_ERROR("08006", "could not obtain message string for remote error");
    CHECK_STR(dblink_last_context(), "while executing query on dblink connection named \"s\"");
    CHECK(dblink_exec("s", "", 1) == NULL);
    CHECK_ERROR("08006", "could not obtain message string for remote error");
    CHECK_STR(dblink_last_context(), "while executing command on dblink connection named \"s\"");
    CHECK_STR_AND_FREE(dblink_exec("s", "", 0), "ERROR");

    STEP("remote DETAIL, HINT and CONTEXT");
    CHECK(dblink_exec("s",
                      "do $$begin raise exception 'boom' using detail = 'the detail', "
                      "hint = 'the hint', errcode = 'P0001'; end$$",
                      1) == NULL);
    CHECK_ERROR("P0001", "boom");
    CHECK_STR(dblink_last_detail(), "the detail");
    CHECK_STR(dblink_last_hint(), "the hint");
    CHECK_STR(dblink_last_context(),
              "PL/pgSQL function inline_code_block line 1 at RAISE\n"
              "while executing command on dblink connection named \"s\"");

    STEP("dblink / dblink_exec with a connstr as first argument");
    r = dblink(dsn, "select 42", 1);
    CHECK_NO_ERROR();
    CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 1);
    CHECK_STR(dblink_result_getvalue(r, 0, 0), "42");
    dblink_result_free(r);
    CHECK_STR_AND_FREE(dblink_exec(dsn, "create temp table zz(x int)", 1), "CREATE TABLE");
    CHECK(dblink_exec(dsn, "select 1", 1) == NULL);
    CHECK_ERROR("2F003", "statement returning results not allowed");
    CHECK(dblink(dsn, "select 1/0", 1) == NULL);
    CHECK_ERROR("22012", "division by zero");
    CHECK_STR(dblink_last_context(), "while executing query on unnamed dblink connection");
    CHECK_STR_AND_FREE(dblink_exec(dsn, "select 1/0", 0), "ERROR");
    /* The temporary connection is not registered. */
    {
        char **names = dblink_get_connections();
        CHECK(names != NULL);
        CHECK_STR(names[0], "s");
        CHECK(names[1] == NULL);
        dblink_free_strings(names);
    }

    STEP("dblink / dblink_exec with a dead connstr -> 08001 with detail (fail=0 does not help)");
    CHECK(dblink(dead_dsn(), "select 1", 0) == NULL);
    CHECK_ERROR("08001", "could not establish connection");
    CHECK(dblink_last_detail() != NULL);
    CHECK(dblink_exec(dead_dsn(), "select 1", 1) == NULL);
    CHECK_ERROR("08001", "could not establish connection");
    CHECK(dblink_last_detail() != NULL);

    STEP("cursor: open -> OK; fetch 2, 2, 2 -> 1,2 / 3,4 / 5; fetch past end -> 0 rows TUPLES; close -> OK");
    CHECK_STR_AND_FREE(dblink_open("s", "c1", "select g from generate_series(1,5) g", 1), "OK");
    CHECK_NO_ERROR();
    r = dblink_fetch("s", "c1", 2, 1);
    CHECK_NO_ERROR();
    CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 2, 1);
    CHECK_STR(dblink_result_fname(r, 0), "g");
    CHECK_STR(dblink_result_getvalue(r, 0, 0), "1");
    CHECK_STR(dblink_result_getvalue(r, 1, 0), "2");
    dblink_result_free(r);
    r = dblink_fetch("s", "c1", 2, 1);
    CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 2, 1);
    CHECK_STR(dblink_result_getvalue(r, 0, 0), "3");
    CHECK_STR(dblink_result_getvalue(r, 1, 0), "4");
    dblink_result_free(r);
    r = dblink_fetch("s", "c1", 2, 1);
    CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 1);
    CHECK_STR(dblink_result_getvalue(r, 0, 0), "5");
    dblink_result_free(r);
    r = dblink_fetch("s", "c1", 2, 1);
    CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 0, 1);
    dblink_result_free(r);
    /* A second cursor in the same transaction. */
    CHECK_STR_AND_FREE(dblink_open("s", "c2", "select 'two'", 0), "OK");
    CHECK_STR_AND_FREE(dblink_close("s", "c1", 1), "OK");
    r = dblink_fetch("s", "c2", 5, 0);
    CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 1);
    CHECK_STR(dblink_result_getvalue(r, 0, 0), "two");
    dblink_result_free(r);
    CHECK_STR_AND_FREE(dblink_close("s", "c2", 0), "OK");
    CHECK_NO_ERROR();
    /* dblink's COMMIT ended the transaction it began. */
    r = dblink("s", "select pg_catalog.txid_current_if_assigned() is null, "
                    "pg_catalog.now() = pg_catalog.statement_timestamp()", 1);
    CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 2);
    CHECK_STR(dblink_result_getvalue(r, 0, 1), "t");
    dblink_result_free(r);

    STEP("missing cursor: fetch/close -> NULL 34000 with context; fail=0 -> ERROR result / 'ERROR'");
    CHECK(dblink_fetch("s", "nope", 1, 1) == NULL);
    CHECK_ERROR("34000", "cursor \"nope\" does not exist");
    CHECK_STR(dblink_last_context(),
              "while fetching from cursor \"nope\" on dblink connection named \"s\"");
    r = dblink_fetch("s", "nope", 1, 0);
    CHECK_NO_ERROR();
    CHECK_RESULT(r, DBLINK_STATUS_ERROR, 0, 0);
    CHECK_STR(dblink_result_sqlstate(r), "34000");
    CHECK_STR(dblink_result_error_message(r), "cursor \"nope\" does not exist");
    dblink_result_free(r);
    CHECK_STR_AND_FREE(dblink_error_message("s"), "ERROR:  cursor \"nope\" does not exist");
    CHECK(dblink_close("s", "nope", 1) == NULL);
    CHECK_ERROR("34000", "cursor \"nope\" does not exist");
    CHECK_STR(dblink_last_context(),
              "while closing cursor \"nope\" on dblink connection named \"s\"");
    CHECK_STR_AND_FREE(dblink_close("s", "nope", 0), "ERROR");

    STEP("open of a bad query: fail=1 -> NULL 42703; rollback; fail=0 -> 'ERROR'");
    CHECK(dblink_open("s", "c4", "select nocol", 1) == NULL);
    CHECK_ERROR("42703", "column \"nocol\" does not exist");
    CHECK_STR(dblink_last_context(),
              "while opening cursor \"c4\" on dblink connection named \"s\"");
    CHECK_STR_AND_FREE(dblink_exec("s", "ROLLBACK", 1), "ROLLBACK");
    CHECK_STR_AND_FREE(dblink_open("s", "c4", "select nocol", 0), "ERROR");
    CHECK_STR_AND_FREE(dblink_exec("s", "ROLLBACK", 1), "ROLLBACK");

    STEP("unknown connection name in open/fetch/close -> 08003");
    CHECK(dblink_open("zz", "c1", "select 1", 0) == NULL);
    CHECK_ERROR("08003", "connection \"zz\" not available");
    CHECK(dblink_fetch("zz", "c1", 1, 0) == NULL);
    CHECK_ERROR("08003", "connection \"zz\" not available");
    CHECK(dblink_close("zz", "c1", 0) == NULL);
    CHECK_ERROR("08003", "connection \"zz\" not available");

    STEP("unnamed connection (NULL): absent -> 08003; connect_u(NULL) then dblink/exec/cursors");
    CHECK(dblink(NULL, "select 1", 1) == NULL);
    CHECK_ERROR("08003", "connection not available");
    CHECK(dblink_exec(NULL, "create temp table q(x int)", 0) == NULL);
    CHECK_ERROR("08003", "connection not available");
    CHECK(dblink_open(NULL, "c1", "select 1", 1) == NULL);
    CHECK_ERROR("08003", "connection not available");
    CHECK(dblink_fetch(NULL, "c1", 1, 1) == NULL);
    CHECK_ERROR("08003", "connection not available");
    CHECK(dblink_close(NULL, "c1", 1) == NULL);
    CHECK_ERROR("08003", "connection not available");
    CHECK_INT(dblink_connect_u(NULL, dsn), 1);
    r = dblink(NULL, "select 7", 1);
    CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 1);
    CHECK_STR(dblink_result_getvalue(r, 0, 0), "7");
    dblink_result_free(r);
    CHECK(dblink(NULL, "select 1/0", 1) == NULL);
    CHECK_ERROR("22012", "division by zero");
    CHECK_STR(dblink_last_context(), "while executing query on unnamed dblink connection");
    CHECK_STR_AND_FREE(dblink_exec(NULL, "create temp table q(x int)", 1), "CREATE TABLE");
    CHECK_STR_AND_FREE(dblink_open(NULL, "u1", "select g from generate_series(1,3) g", 1), "OK");
    r = dblink_fetch(NULL, "u1", 2, 1);
    CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 2, 1);
    dblink_result_free(r);
    CHECK_STR_AND_FREE(dblink_close(NULL, "u1", 1), "OK");
    CHECK(dblink_fetch(NULL, "nope", 1, 1) == NULL);
    CHECK_ERROR("34000", "cursor \"nope\" does not exist");
    CHECK_STR(dblink_last_context(),
              "while fetching from cursor \"nope\" on unnamed dblink connection");
    /* The unnamed connection is not listed. */
    {
        char **names = dblink_get_connections();
        CHECK(names != NULL);
        CHECK_STR(names[0], "s");
        CHECK(names[1] == NULL);
        dblink_free_strings(names);
    }
    CHECK_INT(dblink_disconnect(NULL), 1);
    CHECK_INT(dblink_disconnect("s"), 1);
    CHECK(dblink_get_connections() == NULL);
    CHECK_NO_ERROR();

    printf("sync: all checks passed\n");
    return 0;
}
