/* Threads: thread A blocks in dblink_get_result on a long query on
 * connection 'slow' while the main thread keeps using another connection,
 * then cancels 'slow' from the main thread; A gets the 57014 ERROR result.
 * Ordering is asserted with a mutex and condition variable, never with
 * timings. Also checks that the last error is per thread. */
#include "common.h"

#include <pthread.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
/* Set by A (under `lock`) just before it calls dblink_get_result. */
static int a_about_to_block = 0;
/* Set by A when dblink_get_result returned. */
static int a_returned = 0;
/* Set by the main thread just before it cancels. */
static int main_cancelling = 0;

static void *thread_a(void *arg) {
    (void)arg;
    /* This thread has made no pgdblink call yet: no last error. */
    CHECK_NO_ERROR();
    CHECK_INT(dblink_send_query("slow", "select pg_sleep(30)"), 1);

    pthread_mutex_lock(&lock);
    a_about_to_block = 1;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);

    printf("   A: blocking in dblink_get_result('slow', 0)\n");
    fflush(stdout);
    dblink_result *r = dblink_get_result("slow", 0);

    pthread_mutex_lock(&lock);
    /* Only the main thread's cancel can end pg_sleep(30) this early. */
    CHECK(main_cancelling == 1);
    a_returned = 1;
    pthread_mutex_unlock(&lock);

    printf("   A: dblink_get_result returned\n");
    fflush(stdout);
    /* The main thread's errors are not this thread's. */
    CHECK_NO_ERROR();
    CHECK_RESULT(r, DBLINK_STATUS_ERROR, 0, 0);
    CHECK_STR(dblink_result_sqlstate(r), "57014");
    CHECK_STR(dblink_result_error_message(r), "canceling statement due to user request");
    dblink_result_free(r);
    CHECK_DONE_AND_FREE(dblink_get_result("slow", 1));
    CHECK_INT(dblink_is_busy("slow"), 0);
    /* An error in this thread stays in this thread. */
    CHECK(dblink_get_result("a_missing", 1) == NULL);
    CHECK_ERROR("08003", "connection \"a_missing\" not available");
    return NULL;
}

int main(void) {
    const char *dsn = test_dsn();
    dblink_result *r;
    char slow_pid[32];
    char sql[256];

    STEP("connect 'slow' and 'other'");
    CHECK_INT(dblink_connect("slow", dsn), 1);
    CHECK_INT(dblink_connect("other", dsn), 1);
    r = dblink("slow", "select pg_backend_pid()", 1);
    CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 1);
    snprintf(slow_pid, sizeof slow_pid, "%s", dblink_result_getvalue(r, 0, 0));
    dblink_result_free(r);

    STEP("thread A: send pg_sleep(30) on 'slow' and block in get_result");
    pthread_t a;
    CHECK(pthread_create(&a, NULL, thread_a, NULL) == 0);
    pthread_mutex_lock(&lock);
    while (!a_about_to_block) {
        pthread_cond_wait(&cond, &lock);
    }
    pthread_mutex_unlock(&lock);

    STEP("main: is_busy/send/get on 'other' while A waits on 'slow'");
    CHECK_INT(dblink_is_busy("other"), 0);
    CHECK_INT(dblink_send_query("other", "select 'main'"), 1);
    r = dblink_get_result("other", 1);
    CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 1);
    CHECK_STR(dblink_result_getvalue(r, 0, 0), "main");
    dblink_result_free(r);
    CHECK_DONE_AND_FREE(dblink_get_result("other", 1));
    CHECK_INT(dblink_is_busy("other"), 0);
    {
        char **names = dblink_get_connections();
        CHECK(names != NULL);
        CHECK_STR(names[0], "other");
        CHECK_STR(names[1], "slow");
        CHECK(names[2] == NULL);
        dblink_free_strings(names);
    }

    STEP("main: wait (via 'other') until the slow backend is running pg_sleep(30)");
    /* A cancel that reaches the backend before it starts the query would be
     * discarded, so wait for the server to report it active. */
    snprintf(sql, sizeof sql,
             "select count(*) from pg_stat_activity where pid = %s and state = 'active' "
             "and query = 'select pg_sleep(30)'",
             slow_pid);
    for (;;) {
        r = dblink("other", sql, 1);
        CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 1);
        int active = strcmp(dblink_result_getvalue(r, 0, 0), "1") == 0;
        dblink_result_free(r);
        if (active) {
            break;
        }
        /* A still waits: nothing has cancelled it yet. */
        pthread_mutex_lock(&lock);
        CHECK(a_returned == 0);
        pthread_mutex_unlock(&lock);
    }
    pthread_mutex_lock(&lock);
    CHECK(a_returned == 0);
    pthread_mutex_unlock(&lock);

    STEP("main: an error in the main thread does not reach A");
    CHECK(dblink_error_message("main_missing") == NULL);
    CHECK_ERROR("08003", "connection \"main_missing\" not available");

    STEP("main: dblink_cancel_query('slow') -> OK while A waits");
    pthread_mutex_lock(&lock);
    main_cancelling = 1;
    pthread_mutex_unlock(&lock);
    CHECK_STR_AND_FREE(dblink_cancel_query("slow"), "OK");
    CHECK_NO_ERROR();

    STEP("join A: it got the 57014 ERROR result");
    CHECK(pthread_join(a, NULL) == 0);
    pthread_mutex_lock(&lock);
    CHECK(a_returned == 1);
    pthread_mutex_unlock(&lock);
    /* A's last error (08003 a_missing) is not the main thread's. */
    CHECK_NO_ERROR();
    CHECK_STR_AND_FREE(dblink_error_message("slow"),
                       "ERROR:  canceling statement due to user request");

    STEP("both connections still work; disconnect");
    r = dblink("slow", "select 'after'", 1);
    CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 1);
    CHECK_STR(dblink_result_getvalue(r, 0, 0), "after");
    dblink_result_free(r);
    CHECK_INT(dblink_disconnect("slow"), 1);
    CHECK_INT(dblink_disconnect("other"), 1);
    CHECK(dblink_get_connections() == NULL);

    printf("threads: all checks passed\n");
    return 0;
}
