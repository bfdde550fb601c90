/* The thread's last error: which calls change it, and dblink_last().
 *
 *   1. The frees (dblink_free, dblink_free_strings, dblink_result_free)
 *      never touch it, with NULL or with a real pointer.
 *   2. The result accessors (dblink_result_*) never touch it: neither on
 *      success nor on a bad argument (a NULL result, a cell out of range),
 *      where they still return their failure value.
 *   3. The readers (dblink_last, dblink_last_*) and the other calls that
 *      cannot fail (dblink_version, dblink_libpq_version,
 *      dblink_disconnect_all, dblink_set_*_handler) never touch it.
 *   4. A call that can fail replaces it when it fails and clears it when it
 *      succeeds.
 *   5. dblink_last() is the whole error in one struct, NULL without one,
 *      with the same strings (the same pointers) as dblink_last_*.
 *   6. getvalue's NULL is SQL NULL or no such cell: getisnull tells.
 * "Not touched" is checked as the very same struct and strings, not only
 * equal text: they stay valid across these calls. */
#include "common.h"

#include <limits.h>

/* Sets a known last error (08003 for an unknown name) and returns it. */
static const dblink_error *make_error(void) {
    CHECK_INT(dblink_is_busy("no_such_connection"), -1);
    CHECK_ERROR(DBLINK_SQLSTATE_CONNECTION_DOES_NOT_EXIST,
                "connection \"no_such_connection\" not available");
    const dblink_error *e = dblink_last();
    CHECK(e != NULL);
    return e;
}

/* Checks that the last error is still `e`, the one make_error() set: the
 * same struct, the same strings. */
#define CHECK_KEPT(e)                                                          \
    do {                                                                       \
        const dblink_error *kept_ = (e);                                       \
        CHECK(dblink_last() == kept_);                                         \
        CHECK(dblink_last_error() == kept_->message);                          \
        CHECK(dblink_last_sqlstate() == kept_->sqlstate);                      \
        CHECK_ERROR("08003", "connection \"no_such_connection\" not available"); \
    } while (0)

/* Checks that there is no last error, by both readers. */
#define CHECK_NONE()                                                           \
    do {                                                                       \
        CHECK(dblink_last() == NULL);                                          \
        CHECK_NO_ERROR();                                                      \
    } while (0)

static void ignore_notice(void *arg, const char *connname, const char *sqlstate,
                          const char *message, const char *detail, const char *hint,
                          const char *context) {
    (void)arg, (void)connname, (void)sqlstate, (void)message;
    (void)detail, (void)hint, (void)context;
}

static void ignore_message(void *arg, const char *connname, const char *severity,
                           const char *sqlstate, const char *message, const char *detail,
                           const char *hint, const char *context) {
    (void)arg, (void)connname, (void)severity, (void)sqlstate, (void)message;
    (void)detail, (void)hint, (void)context;
}

/* Every accessor on `r`, in range and out of range: each returns what it
 * should and none touches the last error (`e`, or none when `e` is NULL). */
static void check_accessors_keep(const dblink_result *r, const dblink_error *e) {
#define KEEP()                                                                 \
    do {                                                                       \
        if (e != NULL)                                                         \
            CHECK_KEPT(e);                                                     \
        else                                                                   \
            CHECK_NONE();                                                      \
    } while (0)
    CHECK_INT(dblink_result_status(r), DBLINK_STATUS_TUPLES);
    KEEP();
    CHECK_INT(dblink_result_ntuples(r), 1);
    KEEP();
    CHECK_INT(dblink_result_nfields(r), 2);
    KEEP();
    CHECK_STR(dblink_result_fname(r, 0), "a");
    KEEP();
    CHECK_STR(dblink_result_getvalue(r, 0, 0), "1");
    KEEP();
    CHECK_INT(dblink_result_getisnull(r, 0, 0), 0);
    KEEP();
    CHECK_STR(dblink_result_error_message(r), NULL);
    KEEP();
    CHECK_STR(dblink_result_sqlstate(r), NULL);
    KEEP();
    /* Out of range: the failure value, and still nothing recorded. */
    CHECK(dblink_result_fname(r, 2) == NULL);
    KEEP();
    CHECK(dblink_result_fname(r, -1) == NULL);
    KEEP();
    CHECK(dblink_result_getvalue(r, 1, 0) == NULL);
    KEEP();
    CHECK(dblink_result_getvalue(r, 0, INT_MAX) == NULL);
    KEEP();
    CHECK_INT(dblink_result_getisnull(r, INT_MIN, 0), -1);
    KEEP();
    CHECK_INT(dblink_result_getisnull(r, 0, 2), -1);
    KEEP();
    /* A NULL result. */
    CHECK_INT(dblink_result_status(NULL), DBLINK_STATUS_ERROR);
    KEEP();
    CHECK_INT(dblink_result_ntuples(NULL), -1);
    KEEP();
    CHECK_INT(dblink_result_nfields(NULL), -1);
    KEEP();
    CHECK(dblink_result_fname(NULL, 0) == NULL);
    KEEP();
    CHECK(dblink_result_getvalue(NULL, 0, 0) == NULL);
    KEEP();
    CHECK_INT(dblink_result_getisnull(NULL, 0, 0), -1);
    KEEP();
    CHECK(dblink_result_error_message(NULL) == NULL);
    KEEP();
    CHECK(dblink_result_sqlstate(NULL) == NULL);
    KEEP();
#undef KEEP
}

int main(void) {
    const char *dsn = test_dsn();
    const dblink_error *e;
    dblink_result *r;

    STEP("a thread that has made no call has no last error");
    CHECK_NONE();

    CHECK_INT(dblink_connect("le", dsn), 1);
    CHECK_NONE();

    STEP("rule 1: the frees never touch the last error, NULL or not");
    e = make_error();
    dblink_free(NULL);
    CHECK_KEPT(e);
    dblink_free_strings(NULL);
    CHECK_KEPT(e);
    dblink_result_free(NULL);
    CHECK_KEPT(e);
    {
        /* Real pointers: made first (these calls succeed and clear), then
         * freed after a failed call. */
        char *s = dblink_error_message("le");
        CHECK_STR(s, "OK");
        char **names = dblink_get_connections();
        CHECK(names != NULL);
        r = dblink("le", "select 1", 1);
        CHECK(r != NULL);
        CHECK_NONE();
        e = make_error();
        dblink_free(s);
        CHECK_KEPT(e);
        dblink_free_strings(names);
        CHECK_KEPT(e);
        dblink_result_free(r);
        CHECK_KEPT(e);
    }
    /* Without an error, a free does not make one either. */
    CHECK_INT(dblink_is_busy("le"), 0);
    CHECK_NONE();
    dblink_result_free(NULL);
    dblink_free(NULL);
    dblink_free_strings(NULL);
    CHECK_NONE();

    STEP("rule 2: the accessors never touch it, on success or on a bad argument");
    r = dblink("le", "select 1 as a, null::text as b", 1);
    CHECK(r != NULL);
    CHECK_NONE();
    e = make_error();
    check_accessors_keep(r, e);
    /* ... and with no error: a bad argument records none. */
    CHECK_INT(dblink_is_busy("le"), 0);
    check_accessors_keep(r, NULL);

    STEP("item 4: getvalue's NULL is SQL NULL (getisnull 1) or no such cell (getisnull -1)");
    CHECK(dblink_result_getvalue(r, 0, 1) == NULL);
    CHECK_INT(dblink_result_getisnull(r, 0, 1), 1);
    CHECK(dblink_result_getvalue(r, 0, 5) == NULL);
    CHECK_INT(dblink_result_getisnull(r, 0, 5), -1);
    CHECK(dblink_result_getvalue(r, 0, 0) != NULL);
    CHECK_INT(dblink_result_getisnull(r, 0, 0), 0);
    dblink_result_free(r);

    STEP("rule 3: the readers and the calls that cannot fail never touch it");
    e = make_error();
    CHECK(dblink_last() == e);
    CHECK(dblink_last() == e);
    (void)dblink_last_error();
    (void)dblink_last_sqlstate();
    (void)dblink_last_detail();
    (void)dblink_last_hint();
    (void)dblink_last_context();
    CHECK_KEPT(e);
    CHECK(dblink_version() != NULL);
    CHECK_KEPT(e);
    CHECK(dblink_libpq_version() > 0);
    CHECK_KEPT(e);
    dblink_set_notice_handler(ignore_notice, NULL);
    CHECK_KEPT(e);
    dblink_set_notice_handler(NULL, NULL);
    CHECK_KEPT(e);
    dblink_set_server_notice_handler(ignore_notice, NULL);
    CHECK_KEPT(e);
    dblink_set_server_notice_handler(NULL, NULL);
    CHECK_KEPT(e);
    dblink_set_server_message_handler(ignore_message, NULL);
    CHECK_KEPT(e);
    dblink_set_server_message_handler(NULL, NULL);
    CHECK_KEPT(e);

    STEP("rule 4: a call that can fail clears it on success, replaces it on failure");
    CHECK_INT(dblink_is_busy("le"), 0);
    CHECK_NONE();
    make_error();
    r = dblink_get_notify("le");
    CHECK_NONE();
    dblink_result_free(r);
    make_error();
    CHECK_STR_AND_FREE(dblink_exec("le", "set search_path = public", 1), "SET");
    CHECK_NONE();
    make_error();
    CHECK_INT(dblink_connect("le", dsn), -1);
    CHECK_ERROR(DBLINK_SQLSTATE_DUPLICATE_OBJECT, "duplicate connection name");
    CHECK_INT(dblink_send_query("le", NULL), -1);
    CHECK_ERROR(DBLINK_SQLSTATE_NULL_VALUE_NOT_ALLOWED, "sql must not be NULL");
    CHECK_INT(dblink_send_query_chunked("le", "select 1", -1), -1);
    CHECK_STR(dblink_last_sqlstate(), DBLINK_SQLSTATE_INVALID_PARAMETER_VALUE);
    CHECK_INT(dblink_is_busy("\xff"), -1);
    CHECK_STR(dblink_last_sqlstate(), DBLINK_SQLSTATE_CHARACTER_NOT_IN_REPERTOIRE);
    CHECK(dblink_fetch("le", "no_cursor", 1, 1) == NULL);
    CHECK_STR(dblink_last_sqlstate(), DBLINK_SQLSTATE_INVALID_CURSOR_NAME);
    CHECK(dblink_exec("le", "select 1", 1) == NULL);
    CHECK_STR(dblink_last_sqlstate(), DBLINK_SQLSTATE_STATEMENT_RETURNING_RESULTS);
    CHECK_INT(dblink_connect("le_dead", dead_dsn()), -1);
    CHECK_STR(dblink_last_sqlstate(), DBLINK_SQLSTATE_UNABLE_TO_ESTABLISH);
    CHECK_STR(dblink_last()->sqlstate, "08001");
    CHECK(dblink_last()->detail != NULL);
    /* dblink_disconnect_all cannot fail: the 08001 stays. */
    {
        const dblink_error *dead = dblink_last();
        CHECK_INT(dblink_connect("le_other", dsn), 1);
        CHECK_INT(dblink_connect("le_dead", dead_dsn()), -1);
        dead = dblink_last();
        dblink_disconnect_all();
        CHECK(dblink_last() == dead);
        CHECK_STR(dblink_last_sqlstate(), DBLINK_SQLSTATE_UNABLE_TO_ESTABLISH);
        CHECK(dblink_get_connections() == NULL);
        CHECK_NONE();
    }

    STEP("rule 5: dblink_last() is the whole error, the same strings as dblink_last_*");
    CHECK_INT(dblink_connect("le", dsn), 1);
    CHECK(dblink_exec("le",
                      "do $$begin raise exception 'boom' using detail = 'the detail', "
                      "hint = 'the hint', errcode = 'P0001'; end$$",
                      1) == NULL);
    e = dblink_last();
    CHECK(e != NULL);
    CHECK_STR(e->sqlstate, "P0001");
    CHECK_STR(e->message, "boom");
    CHECK_STR(e->detail, "the detail");
    CHECK_STR(e->hint, "the hint");
    CHECK_STR(e->context, "PL/pgSQL function inline_code_block line 1 at RAISE\n"
                          "while executing command on dblink connection named \"le\"");
    CHECK(e->sqlstate == dblink_last_sqlstate());
    CHECK(e->message == dblink_last_error());
    CHECK(e->detail == dblink_last_detail());
    CHECK(e->hint == dblink_last_hint());
    CHECK(e->context == dblink_last_context());
    /* Absent parts are NULL. */
    e = make_error();
    CHECK(e->detail == NULL && e->hint == NULL && e->context == NULL);
    /* A free in between (a destructor, a garbage collector) changes nothing. */
    r = dblink("le", "select 1", 1);
    CHECK(dblink("le", "select 1/0", 1) == NULL);
    e = dblink_last();
    dblink_result_free(r);
    CHECK(dblink_last() == e);
    CHECK_STR(e->sqlstate, "22012");
    CHECK_STR(e->message, "division by zero");
    CHECK_STR(e->context, "while executing query on dblink connection named \"le\"");

    STEP("the SQLSTATE macros are the five-character codes");
    CHECK_STR(DBLINK_SQLSTATE_CONNECTION_DOES_NOT_EXIST, "08003");
    CHECK_STR(DBLINK_SQLSTATE_CONNECTION_FAILURE, "08006");
    CHECK_STR(DBLINK_SQLSTATE_QUERY_CANCELED, "57014");
    CHECK_STR(DBLINK_SQLSTATE_NAME_TOO_LONG, "42622");
    CHECK_STR(DBLINK_SQLSTATE_INTERNAL_ERROR, "XX000");
    CHECK_STR(DBLINK_SQLSTATE_FEATURE_NOT_SUPPORTED, "0A000");
    CHECK_STR(DBLINK_SQLSTATE_OUT_OF_MEMORY, "53200");

    CHECK_INT(dblink_disconnect("le"), 1);
    CHECK_NONE();
    printf("last_error: all checks passed\n");
    return 0;
}
