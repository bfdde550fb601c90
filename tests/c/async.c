/* The async dblink sequence through the C API: connect, duplicate names,
 * multi-statement send, get_result until DONE, remote errors with
 * fail_on_error off and on, cancel, unknown names, a dead server,
 * get_connections, LISTEN/NOTIFY and SQL NULLs. */
#include "common.h"

#include <unistd.h>

/* get_result on `name` must give one TUPLES row with the single value `v`. */
static void check_one_value(const char *name, const char *v) {
    dblink_result *r = dblink_get_result(name, 1);
    CHECK_NO_ERROR();
    CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 1);
    CHECK_STR(dblink_result_getvalue(r, 0, 0), v);
    CHECK_INT(dblink_result_getisnull(r, 0, 0), 0);
    CHECK_STR(dblink_result_error_message(r), NULL);
    CHECK_STR(dblink_result_sqlstate(r), NULL);
    dblink_result_free(r);
}

int main(void) {
    const char *dsn = test_dsn();
    dblink_result *r;

    STEP("connect 'a' -> 1; again -> -1 42710 duplicate connection name");
    CHECK_INT(dblink_connect("a", dsn), 1);
    CHECK_NO_ERROR();
    CHECK_INT(dblink_connect("a", dsn), -1);
    CHECK_ERROR("42710", "duplicate connection name");
    CHECK_INT(dblink_is_busy("a"), 0);
    CHECK_STR_AND_FREE(dblink_error_message("a"), "OK");

    STEP("send multi-statement -> 1; send again -> 0 (another command is already in progress)");
    CHECK_INT(dblink_send_query("a", "select 1; select 2; create temp table t(x int)"), 1);
    CHECK_NO_ERROR();
    CHECK_INT(dblink_send_query("a", "select 3"), 0);
    CHECK_NO_ERROR();
    CHECK_STR_AND_FREE(dblink_error_message("a"), "another command is already in progress");

    STEP("get_result x4: TUPLES {1}, TUPLES {2}, COMMAND {CREATE TABLE}, DONE");
    check_one_value("a", "1");
    check_one_value("a", "2");
    r = dblink_get_result("a", 1);
    CHECK_RESULT(r, DBLINK_STATUS_COMMAND, 1, 1);
    CHECK_STR(dblink_result_fname(r, 0), "status");
    CHECK_STR(dblink_result_getvalue(r, 0, 0), "CREATE TABLE");
    dblink_result_free(r);
    CHECK_DONE_AND_FREE(dblink_get_result("a", 1));
    /* dblink keeps returning the empty set. */
    CHECK_DONE_AND_FREE(dblink_get_result("a", 1));

    STEP("send 'select 1/0'; get_result(fail=0) -> ERROR 22012 result; then DONE");
    CHECK_INT(dblink_send_query("a", "select 1/0"), 1);
    CHECK_STR_AND_FREE(dblink_error_message("a"), "OK");
    r = dblink_get_result("a", 0);
    CHECK_NO_ERROR();
    CHECK_RESULT(r, DBLINK_STATUS_ERROR, 0, 0);
    CHECK_STR(dblink_result_sqlstate(r), "22012");
    CHECK_STR(dblink_result_error_message(r), "division by zero");
    dblink_result_free(r);
    CHECK_STR_AND_FREE(dblink_error_message("a"), "ERROR:  division by zero");
    CHECK_DONE_AND_FREE(dblink_get_result("a", 0));

    STEP("send 'select 1/0'; get_result(fail=1) -> NULL 22012 with context; then DONE");
    CHECK_INT(dblink_send_query("a", "select 1/0"), 1);
    r = dblink_get_result("a", 1);
    CHECK(r == NULL);
    CHECK_ERROR("22012", "division by zero");
    CHECK_STR(dblink_last_context(), "while executing query on dblink connection named \"a\"");
    CHECK_STR(dblink_last_detail(), NULL);
    CHECK_STR(dblink_last_hint(), NULL);
    CHECK_DONE_AND_FREE(dblink_get_result("a", 1));
    CHECK_NO_ERROR();

    STEP("send pg_sleep(5); is_busy -> 1; cancel -> OK; get_result(fail=0) -> ERROR 57014; DONE");
    {
        char pid[32], sql[256];
        r = dblink("a", "select pg_backend_pid()", 1);
        CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 1);
        snprintf(pid, sizeof pid, "%s", dblink_result_getvalue(r, 0, 0));
        dblink_result_free(r);
        CHECK_INT(dblink_send_query("a", "select pg_sleep(5)"), 1);
        CHECK_INT(dblink_is_busy("a"), 1);
        /* A cancel that reaches the backend before it starts the query is
         * discarded by the server (dblink alike): wait until it is active. */
        snprintf(sql, sizeof sql,
                 "select count(*) from pg_stat_activity where pid = %s and state = 'active'",
                 pid);
        for (int active = 0; !active;) {
            r = dblink(test_dsn(), sql, 1);
            CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 1);
            active = strcmp(dblink_result_getvalue(r, 0, 0), "1") == 0;
            dblink_result_free(r);
        }
    }
    CHECK_STR_AND_FREE(dblink_cancel_query("a"), "OK");
    r = dblink_get_result("a", 0);
    CHECK_RESULT(r, DBLINK_STATUS_ERROR, 0, 0);
    CHECK_STR(dblink_result_sqlstate(r), "57014");
    CHECK_STR(dblink_result_error_message(r), "canceling statement due to user request");
    dblink_result_free(r);
    CHECK_STR_AND_FREE(dblink_error_message("a"),
                       "ERROR:  canceling statement due to user request");
    CHECK_DONE_AND_FREE(dblink_get_result("a", 0));
    CHECK_INT(dblink_is_busy("a"), 0);
    /* Cancel on an idle connection is 'OK' too. */
    CHECK_STR_AND_FREE(dblink_cancel_query("a"), "OK");

    STEP("unknown name 'nope' -> -1/NULL, 08003 connection \"nope\" not available");
    CHECK_INT(dblink_send_query("nope", "select 1"), -1);
    CHECK_ERROR("08003", "connection \"nope\" not available");
    CHECK_INT(dblink_is_busy("nope"), -1);
    CHECK_ERROR("08003", "connection \"nope\" not available");
    CHECK(dblink_get_result("nope", 1) == NULL);
    CHECK_ERROR("08003", "connection \"nope\" not available");
    CHECK(dblink_get_result("nope", 0) == NULL);
    CHECK_ERROR("08003", "connection \"nope\" not available");
    CHECK(dblink_cancel_query("nope") == NULL);
    CHECK_ERROR("08003", "connection \"nope\" not available");
    CHECK(dblink_error_message("nope") == NULL);
    CHECK_ERROR("08003", "connection \"nope\" not available");
    CHECK(dblink_get_notify("nope") == NULL);
    CHECK_ERROR("08003", "connection \"nope\" not available");
    CHECK_INT(dblink_disconnect("nope"), -1);
    CHECK_ERROR("08003", "connection \"nope\" not available");
    CHECK_STR(dblink_last_detail(), NULL);
    CHECK_STR(dblink_last_context(), NULL);

    STEP("disconnect(NULL) with no unnamed connection -> -1 08003 connection not available");
    CHECK_INT(dblink_disconnect(NULL), -1);
    CHECK_ERROR("08003", "connection not available");

    STEP("connect to a dead port -> -1 08001 could not establish connection, with detail");
    CHECK_INT(dblink_connect("dead", dead_dsn()), -1);
    CHECK_ERROR("08001", "could not establish connection");
    CHECK(dblink_last_detail() != NULL);
    CHECK(strlen(dblink_last_detail()) > 0);
    printf("   detail: %s\n", dblink_last_detail());
    /* The failed name is not registered. */
    CHECK_INT(dblink_disconnect("dead"), -1);
    CHECK_ERROR("08003", "connection \"dead\" not available");

    STEP("get_connections with 'c', '' and the unnamed one -> {\"\", \"c\"}");
    CHECK_INT(dblink_disconnect("a"), 1);
    CHECK_NO_ERROR();
    CHECK_INT(dblink_connect("c", dsn), 1);
    CHECK_INT(dblink_connect("", dsn), 1);
    CHECK_INT(dblink_connect(NULL, dsn), 1);
    {
        char **names = dblink_get_connections();
        CHECK_NO_ERROR();
        CHECK(names != NULL);
        CHECK_STR(names[0], "");
        CHECK_STR(names[1], "c");
        CHECK(names[2] == NULL);
        dblink_free_strings(names);
    }
    STEP("disconnect all of them -> get_connections NULL without an error");
    CHECK_INT(dblink_disconnect("c"), 1);
    CHECK_INT(dblink_disconnect(""), 1);
    CHECK_INT(dblink_disconnect(NULL), 1);
    CHECK_NO_ERROR();
    CHECK(dblink_get_connections() == NULL);
    CHECK_NO_ERROR();

    STEP("LISTEN/NOTIFY -> get_notify columns notify_name/be_pid/extra, row (ch, pid, payload1)");
    {
        char channel[64];
        char pid[32];
        snprintf(channel, sizeof channel, "pgdblink_c_async_%ld", (long)getpid());
        char sql[160];
        CHECK_INT(dblink_connect("n", dsn), 1);
        r = dblink_get_notify("n");
        CHECK_NO_ERROR();
        CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 0, 3);
        dblink_result_free(r);
        r = dblink("n", "select pg_backend_pid()", 1);
        CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 1);
        snprintf(pid, sizeof pid, "%s", dblink_result_getvalue(r, 0, 0));
        dblink_result_free(r);
        snprintf(sql, sizeof sql, "LISTEN %s", channel);
        CHECK_STR_AND_FREE(dblink_exec("n", sql, 1), "LISTEN");
        /* A self-notification arrives before the command completes. */
        snprintf(sql, sizeof sql, "NOTIFY %s, 'payload1'", channel);
        CHECK_STR_AND_FREE(dblink_exec("n", sql, 1), "NOTIFY");
        r = dblink_get_notify("n");
        CHECK_NO_ERROR();
        CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 3);
        CHECK_STR(dblink_result_fname(r, 0), "notify_name");
        CHECK_STR(dblink_result_fname(r, 1), "be_pid");
        CHECK_STR(dblink_result_fname(r, 2), "extra");
        CHECK_STR(dblink_result_getvalue(r, 0, 0), channel);
        CHECK_STR(dblink_result_getvalue(r, 0, 1), pid);
        CHECK_STR(dblink_result_getvalue(r, 0, 2), "payload1");
        dblink_result_free(r);
        /* Consumed. */
        r = dblink_get_notify("n");
        CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 0, 3);
        dblink_result_free(r);
        /* get_notify() with no unnamed connection: the empty set, no error. */
        r = dblink_get_notify(NULL);
        CHECK_NO_ERROR();
        CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 0, 3);
        dblink_result_free(r);
    }

    STEP("SQL NULL: getvalue NULL without an error, getisnull 1");
    r = dblink("n", "select null::text, 'x'", 1);
    CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 2);
    CHECK(dblink_result_getvalue(r, 0, 0) == NULL);
    CHECK_NO_ERROR();
    CHECK_INT(dblink_result_getisnull(r, 0, 0), 1);
    CHECK_STR(dblink_result_getvalue(r, 0, 1), "x");
    CHECK_INT(dblink_result_getisnull(r, 0, 1), 0);
    dblink_result_free(r);

    STEP("disconnect_all closes everything");
    CHECK_INT(dblink_connect("z", dsn), 1);
    dblink_disconnect_all();
    CHECK_NO_ERROR();
    CHECK(dblink_get_connections() == NULL);
    CHECK_INT(dblink_disconnect("n"), -1);
    CHECK_ERROR("08003", "connection \"n\" not available");

    printf("async: all checks passed\n");
    return 0;
}
