/* The functions beyond dblink through the C API: parameters, chunked
 * results, timeouts, waiting on several connections, socket /
 * consume_input, connect_timeout / connect_all, reset. */
#include "common.h"

#include <poll.h>

/* Reads `name`'s results until DONE, freeing them. */
static void drain(const char *name) {
    for (;;) {
        dblink_result *r = dblink_get_result(name, 0);
        CHECK(r != NULL);
        dblink_status st = dblink_result_status(r);
        dblink_result_free(r);
        if (st == DBLINK_STATUS_DONE) {
            return;
        }
    }
}

/* What the notice callbacks saw last. */
static char seen_name[64], seen_state[8], seen_message[256];
static int seen_count;

static char seen_severity[32];

static void record_message(void *arg, const char *connname, const char *severity,
                           const char *sqlstate, const char *message, const char *detail,
                           const char *hint, const char *context) {
    (void)connname;
    (void)detail;
    (void)hint;
    (void)context;
    *(int *)arg += 1;
    snprintf(seen_severity, sizeof seen_severity, "%s:%s:%s", severity, sqlstate, message);
}

static void record_notice(void *arg, const char *connname, const char *sqlstate,
                          const char *message, const char *detail, const char *hint,
                          const char *context) {
    (void)detail;
    (void)hint;
    (void)context;
    *(int *)arg += 1;
    seen_count++;
    snprintf(seen_name, sizeof seen_name, "%s", connname ? connname : "(unnamed)");
    snprintf(seen_state, sizeof seen_state, "%s", sqlstate);
    snprintf(seen_message, sizeof seen_message, "%s", message);
}

int main(void) {
    const char *dsn = test_dsn();
    dblink_result *r;

    STEP("dblink_params: $1/$2 bound as text, NULL entry is SQL NULL");
    CHECK_INT(dblink_connect("p", dsn), 1);
    {
        const char *const values[2] = {"41", NULL};
        r = dblink_params("p", "select $1::int + 1, $2::text is null", 2, values, 1);
        CHECK_NO_ERROR();
        CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 2);
        CHECK_STR(dblink_result_getvalue(r, 0, 0), "42");
        CHECK_STR(dblink_result_getvalue(r, 0, 1), "t");
        dblink_result_free(r);
        /* Nothing is spliced into the SQL. */
        const char *const quote[1] = {"it's'; drop table x; --"};
        r = dblink_params("p", "select $1::text", 1, quote, 1);
        CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 1);
        CHECK_STR(dblink_result_getvalue(r, 0, 0), quote[0]);
        dblink_result_free(r);
        /* A connstr as first argument. */
        r = dblink_params(dsn, "select $1::int * 2", 1, values, 1);
        CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 1);
        CHECK_STR(dblink_result_getvalue(r, 0, 0), "82");
        dblink_result_free(r);
        /* Remote error with fail = 0 and 1. */
        r = dblink_params("p", "select 1 / $1::int", 1, (const char *const[]){"0"}, 0);
        CHECK_RESULT(r, DBLINK_STATUS_ERROR, 0, 0);
        CHECK_STR(dblink_result_sqlstate(r), "22012");
        dblink_result_free(r);
        CHECK(dblink_params("p", "select 1 / $1::int", 1, (const char *const[]){"0"}, 1) == NULL);
        CHECK_ERROR("22012", "division by zero");
    }

    STEP("dblink_send_query_params -> 1; get_result -> the value; DONE");
    {
        const char *const values[1] = {"x"};
        CHECK_INT(dblink_send_query_params("p", "select $1::text || 'y'", 1, values), 1);
        CHECK_INT(dblink_send_query_params("p", "select 1", 0, NULL), 0);
        r = dblink_get_result("p", 1);
        CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 1);
        CHECK_STR(dblink_result_getvalue(r, 0, 0), "xy");
        dblink_result_free(r);
        CHECK_DONE_AND_FREE(dblink_get_result("p", 1));
    }

    STEP("dblink_send_query_chunked: chunks of <= 2 rows, an empty TUPLES, then DONE");
    CHECK_INT(dblink_send_query_chunked("p", "select g from generate_series(1,5) g", 2), 1);
    {
        int total = 0;
        for (;;) {
            r = dblink_get_result("p", 1);
            CHECK(r != NULL);
            CHECK_INT(dblink_result_status(r), DBLINK_STATUS_TUPLES);
            int n = dblink_result_ntuples(r);
            CHECK(n >= 0 && n <= 2);
            for (int i = 0; i < n; i++) {
                char want[16];
                snprintf(want, sizeof want, "%d", total + i + 1);
                CHECK_STR(dblink_result_getvalue(r, i, 0), want);
            }
            dblink_result_free(r);
            if (n == 0) {
                break;
            }
            total += n;
        }
        CHECK_INT(total, 5);
        CHECK_DONE_AND_FREE(dblink_get_result("p", 1));
    }

    STEP("socket / consume_input on an idle connection");
    CHECK(dblink_socket("p") >= 0);
    CHECK_INT(dblink_consume_input("p"), 1);
    CHECK_INT(dblink_socket("nope"), -1);
    CHECK_ERROR("08003", "connection \"nope\" not available");
    CHECK_INT(dblink_consume_input("nope"), -1);
    CHECK_ERROR("08003", "connection \"nope\" not available");

    STEP("get_result_timeout on pg_sleep(5) -> NULL 57014; cancel_query_timeout -> OK; results kept");
    CHECK_INT(dblink_send_query("p", "select pg_sleep(5)"), 1);
    CHECK(dblink_get_result_timeout("p", 1, 50) == NULL);
    CHECK_STR(dblink_last_sqlstate(), "57014");
    CHECK(strncmp(dblink_last_error(), "timed out", 9) == 0);
    CHECK_INT(dblink_is_busy("p"), 1);
    CHECK_STR_AND_FREE(dblink_cancel_query_timeout("p", 10000), "OK");
    r = dblink_get_result_timeout("p", 0, -1);
    CHECK_RESULT(r, DBLINK_STATUS_ERROR, 0, 0);
    CHECK_STR(dblink_result_sqlstate(r), "57014");
    dblink_result_free(r);
    CHECK_DONE_AND_FREE(dblink_get_result_timeout("p", 1, 10000));
    CHECK(dblink_cancel_query_timeout("nope", 10) == NULL);
    CHECK_ERROR("08003", "connection \"nope\" not available");

    STEP("wait_any / wait_all over a slow and a fast connection");
    CHECK_INT(dblink_connect("w1", dsn), 1);
    CHECK_INT(dblink_connect("w2", dsn), 1);
    {
        const char *const both[2] = {"w1", "w2"};
        const char *const slow[1] = {"w1"};
        const char *const unknown[2] = {"w1", "nope"};
        /* Idle connections: get_result would not block. */
        CHECK_INT(dblink_wait_any(both, 2, 0), 0);
        CHECK_INT(dblink_wait_all(both, 2, 0), 1);
        CHECK_INT(dblink_send_query("w1", "select pg_sleep(5)"), 1);
        CHECK_INT(dblink_send_query("w2", "select 2"), 1);
        CHECK_INT(dblink_wait_any(both, 2, -1), 1);
        CHECK_NO_ERROR();
        {
            /* wait_ready: every ready index; here only w2's (index 1). */
            int ready[2] = {-7, -7};
            CHECK_INT(dblink_wait_ready(both, 2, ready, -1), 1);
            CHECK_INT(ready[0], 1);
            CHECK_INT(ready[1], -7);
            CHECK_INT(dblink_wait_ready(slow, 1, ready, 0), DBLINK_TIMED_OUT);
            CHECK_INT(dblink_wait_ready(both, 2, NULL, 0), -1);
            CHECK_ERROR("22004", "ready must not be NULL");
            CHECK_INT(dblink_wait_ready(both, 2, ready, -5), -1);
            CHECK_ERROR("22023", "timeout_ms must be -1 (no timeout) or at least 0, not -5");
            CHECK_INT(dblink_wait_any(both, 2, -2), -1);
            CHECK_ERROR("22023", "timeout_ms must be -1 (no timeout) or at least 0, not -2");
        }
        CHECK_INT(dblink_wait_any(slow, 1, 0), DBLINK_TIMED_OUT);
        CHECK_NO_ERROR();
        CHECK_INT(dblink_wait_all(both, 2, 0), 0);
        CHECK_INT(dblink_wait_any(unknown, 2, 0), -1);
        CHECK_ERROR("08003", "connection \"nope\" not available");
        CHECK_INT(dblink_wait_all(unknown, 2, 0), -1);
        CHECK_ERROR("08003", "connection \"nope\" not available");
        CHECK_STR_AND_FREE(dblink_cancel_query("w1"), "OK");
        CHECK_INT(dblink_wait_all(both, 2, -1), 1);
        r = dblink_get_result("w2", 1);
        CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 1);
        CHECK_STR(dblink_result_getvalue(r, 0, 0), "2");
        dblink_result_free(r);
        r = dblink_get_result("w1", 0);
        CHECK_RESULT(r, DBLINK_STATUS_ERROR, 0, 0);
        CHECK_STR(dblink_result_sqlstate(r), "57014");
        dblink_result_free(r);
        drain("w1");
        drain("w2");
    }

    STEP("connect_timeout: works; dead port -> -1 08001");
    CHECK_INT(dblink_connect_timeout("ct", dsn, 30000), 1);
    CHECK_NO_ERROR();
    CHECK_INT(dblink_connect_timeout("ct", dsn, 30000), -1);
    CHECK_ERROR("42710", "duplicate connection name");
    CHECK_INT(dblink_connect_timeout("ct2", dead_dsn(), 30000), -1);
    CHECK_ERROR("08001", "could not establish connection");
    CHECK(dblink_last_detail() != NULL);

    STEP("connect_all: one good, one dead -> 1 opened, ok = {1, 0}, last error 08001");
    {
        const char *const names[2] = {"x1", "x2"};
        const char *const connstrs[2] = {dsn, dead_dsn()};
        int ok[2] = {-7, -7};
        CHECK_INT(dblink_connect_all(names, connstrs, 2, 30000, ok), 1);
        CHECK_INT(ok[0], 1);
        CHECK_INT(ok[1], 0);
        CHECK_ERROR("08001", "could not establish connection");
        CHECK_INT(dblink_is_busy("x1"), 0);
        CHECK_INT(dblink_is_busy("x2"), -1);
        CHECK_ERROR("08003", "connection \"x2\" not available");
    }

    STEP("reset: reconnects (new backend), connection usable; unknown -> 08003");
    {
        char before[32];
        r = dblink("p", "select pg_backend_pid()", 1);
        CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 1);
        snprintf(before, sizeof before, "%s", dblink_result_getvalue(r, 0, 0));
        dblink_result_free(r);
        CHECK_INT(dblink_reset("p"), 1);
        CHECK_NO_ERROR();
        r = dblink("p", "select pg_backend_pid()", 1);
        CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 1);
        CHECK(strcmp(before, dblink_result_getvalue(r, 0, 0)) != 0);
        dblink_result_free(r);
        CHECK_INT(dblink_reset("nope"), -1);
        CHECK_ERROR("08003", "connection \"nope\" not available");
    }

    STEP("connect_start/poll: three connects in flight at once, driven with poll(2)");
    {
        const char *const names[3] = {"s1", "s2", "s3"};
        int state[3];
        for (int i = 0; i < 3; i++) {
            CHECK_INT(dblink_connect_start(names[i], dsn), 1);
            state[i] = DBLINK_CONNECT_WRITING;
        }
        CHECK_INT(dblink_connect_start("s1", dsn), -1);
        CHECK_ERROR("42710", "duplicate connection name");
        CHECK_INT(dblink_is_busy("s2"), -1); /* not usable until ready */
        CHECK(strstr(SHOW(dblink_last_error()), "still connecting") != NULL);
        for (int rounds = 0; rounds < 1000; rounds++) {
            struct pollfd fds[3];
            int n = 0;
            for (int i = 0; i < 3; i++) {
                if (state[i] == DBLINK_CONNECT_READY) continue;
                fds[n].fd = dblink_socket(names[i]);
                CHECK(fds[n].fd >= 0);
                fds[n].events = state[i] == DBLINK_CONNECT_READING ? POLLIN : POLLOUT;
                fds[n].revents = 0;
                n++;
            }
            if (n == 0) break;
            CHECK(poll(fds, (nfds_t)n, 10000) > 0);
            for (int i = 0; i < 3; i++) {
                if (state[i] != DBLINK_CONNECT_READY) {
                    state[i] = dblink_connect_poll(names[i]);
                    CHECK(state[i] > 0);
                }
            }
        }
        for (int i = 0; i < 3; i++) {
            CHECK_INT(state[i], DBLINK_CONNECT_READY);
            r = dblink(names[i], "select 1", 1);
            CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 1);
            dblink_result_free(r);
        }
        /* A dead port fails in a poll step; the name is released. */
        CHECK_INT(dblink_connect_start("sdead", dead_dsn()), 1);
        int st;
        while ((st = dblink_connect_poll("sdead")) > 0 && st != DBLINK_CONNECT_READY) {
            struct pollfd fd = {dblink_socket("sdead"),
                                st == DBLINK_CONNECT_READING ? POLLIN : POLLOUT, 0};
            CHECK(poll(&fd, 1, 10000) >= 0);
        }
        CHECK_INT(st, -1);
        CHECK_ERROR("08001", "could not establish connection");
        CHECK_INT(dblink_disconnect("sdead"), -1);
        CHECK_ERROR("08003", "connection \"sdead\" not available");
    }

    STEP("notice handlers: dblink's NOTICE and the server's, per connection name");
    {
        int calls = 0;
        CHECK_INT(dblink_connect("n", dsn), 1);
        dblink_set_notice_handler(record_notice, &calls);
        CHECK_INT(dblink_send_query("n", "select 1"), 1);
        CHECK_INT(dblink_send_query("n", "select 2"), 0);
        CHECK_INT(calls, 1);
        CHECK_STR(seen_name, "n");
        CHECK_STR(seen_state, "00000");
        CHECK_STR(seen_message, "could not send query: another command is already in progress");
        drain("n");
        dblink_set_notice_handler(NULL, NULL);
        dblink_set_server_notice_handler(record_notice, &calls);
        CHECK_STR_AND_FREE(dblink_exec("n", "do $$ begin raise warning 'careful'; end $$", 1), "DO");
        CHECK_INT(calls, 2);
        CHECK_STR(seen_state, "01000");
        CHECK_STR(seen_message, "careful");
        dblink_set_server_notice_handler(NULL, NULL);
        CHECK_STR_AND_FREE(dblink_exec("n", "do $$ begin raise warning 'unseen'; end $$", 1), "DO");
        CHECK_INT(calls, 2);
        CHECK_INT(seen_count, 2);
        /* The message handler: with severity, beside the notice handler. */
        {
            int messages = 0;
            dblink_set_server_message_handler(record_message, &messages);
            CHECK_STR_AND_FREE(
                dblink_exec("n", "do $$ begin raise warning 'x' using errcode = '22012'; end $$", 1),
                "DO");
            CHECK_INT(messages, 1);
            CHECK_STR(seen_severity, "WARNING:22012:x");
            dblink_set_server_message_handler(NULL, NULL);
            CHECK_STR_AND_FREE(dblink_exec("n", "do $$ begin raise warning 'y'; end $$", 1), "DO");
            CHECK_INT(messages, 1);
        }
    }

    dblink_disconnect_all();
    CHECK(dblink_get_connections() == NULL);
    printf("beyond: all checks passed\n");
    return 0;
}
