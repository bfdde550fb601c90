/* Shared helpers for the C ABI tests (the .c files of tests/c), built and run under
 * valgrind by tests/c_abi.rs.
 *
 * Every check prints what it checks; the first failure prints file:line,
 * the failed expression and pgdblink's last error, and exits with 1.
 *
 * Environment: PGDBLINK_DSN (libpq connstr of the test server) and
 * PGDBLINK_DEAD_DSN (a connstr to a port where nothing listens). */
#ifndef PGDBLINK_TEST_COMMON_H
#define PGDBLINK_TEST_COMMON_H

/* fileno, dup, dup2 under -std=c11. Include this header first. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgdblink.h"

/* Shows a possibly-NULL C string. */
#define SHOW(s) ((s) != NULL ? (s) : "(null)")

static inline void report_failure(const char *file, int line, const char *what) {
    /* Read the last error first: printing does not touch it, but keep the
     * order obvious. */
    const char *err = dblink_last_error();
    const char *state = dblink_last_sqlstate();
    const char *detail = dblink_last_detail();
    const char *context = dblink_last_context();
    fprintf(stderr,
            "%s:%d: CHECK FAILED: %s\n"
            "  dblink_last_error()=%s\n  dblink_last_sqlstate()=%s\n"
            "  dblink_last_detail()=%s\n  dblink_last_context()=%s\n",
            file, line, what, SHOW(err), SHOW(state), SHOW(detail), SHOW(context));
    fflush(stdout);
    fflush(stderr);
}

/* Checks a condition; on failure reports and exits with 1. */
#define CHECK(cond)                                          \
    do {                                                     \
        if (!(cond)) {                                       \
            report_failure(__FILE__, __LINE__, #cond);       \
            exit(1);                                         \
        }                                                    \
    } while (0)

/* NULL-safe string equality: both NULL, or both non-NULL and equal. */
static inline int str_eq(const char *a, const char *b) {
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return strcmp(a, b) == 0;
}

/* Checks that the string `actual` equals `expected` (either may be NULL). */
#define CHECK_STR(actual, expected)                                            \
    do {                                                                       \
        const char *check_a_ = (actual);                                       \
        const char *check_e_ = (expected);                                     \
        if (!str_eq(check_a_, check_e_)) {                                     \
            fprintf(stderr, "  got:      \"%s\"\n  expected: \"%s\"\n",        \
                    SHOW(check_a_), SHOW(check_e_));                           \
            report_failure(__FILE__, __LINE__, #actual " == " #expected);      \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

/* Checks an int. */
#define CHECK_INT(actual, expected)                                            \
    do {                                                                       \
        long check_a_ = (long)(actual);                                        \
        long check_e_ = (long)(expected);                                      \
        if (check_a_ != check_e_) {                                            \
            fprintf(stderr, "  got: %ld  expected: %ld\n", check_a_, check_e_); \
            report_failure(__FILE__, __LINE__, #actual " == " #expected);      \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

/* Checks that the thread's last call raised an ERROR with this SQLSTATE and
 * message. */
#define CHECK_ERROR(sqlstate, message)                                         \
    do {                                                                       \
        CHECK_STR(dblink_last_sqlstate(), (sqlstate));                         \
        CHECK_STR(dblink_last_error(), (message));                             \
    } while (0)

/* Checks that the thread's last call succeeded (no ERROR recorded). */
#define CHECK_NO_ERROR()                                                       \
    do {                                                                       \
        CHECK_STR(dblink_last_error(), NULL);                                  \
        CHECK_STR(dblink_last_sqlstate(), NULL);                               \
        CHECK_STR(dblink_last_detail(), NULL);                                 \
        CHECK_STR(dblink_last_hint(), NULL);                                   \
        CHECK_STR(dblink_last_context(), NULL);                                \
    } while (0)

/* Prints the step being checked. */
#define STEP(...)                                                              \
    do {                                                                       \
        printf("-- ");                                                         \
        printf(__VA_ARGS__);                                                   \
        printf("\n");                                                          \
        fflush(stdout);                                                        \
    } while (0)

/* A required environment variable. */
static inline const char *env_or_die(const char *name) {
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0') {
        fprintf(stderr, "environment variable %s is not set (run via cargo test --test c_abi)\n",
                name);
        exit(2);
    }
    return v;
}

static inline const char *test_dsn(void) { return env_or_die("PGDBLINK_DSN"); }

static inline const char *dead_dsn(void) { return env_or_die("PGDBLINK_DEAD_DSN"); }

/* Checks a result's status and shape. */
#define CHECK_RESULT(r, status, ntuples, nfields)                              \
    do {                                                                       \
        CHECK((r) != NULL);                                                    \
        CHECK_INT(dblink_result_status(r), (status));                          \
        CHECK_INT(dblink_result_ntuples(r), (ntuples));                        \
        CHECK_INT(dblink_result_nfields(r), (nfields));                        \
    } while (0)

/* Checks a DONE result (the empty set that ends a query) and frees it. */
#define CHECK_DONE_AND_FREE(r)                                                 \
    do {                                                                       \
        dblink_result *check_r_ = (r);                                         \
        CHECK_RESULT(check_r_, DBLINK_STATUS_DONE, 0, 0);                      \
        CHECK_STR(dblink_result_error_message(check_r_), NULL);                \
        CHECK_STR(dblink_result_sqlstate(check_r_), NULL);                     \
        dblink_result_free(check_r_);                                          \
    } while (0)

/* Checks a string returned by pgdblink and frees it. */
#define CHECK_STR_AND_FREE(expr, expected)                                     \
    do {                                                                       \
        char *check_s_ = (expr);                                               \
        CHECK_STR(check_s_, (expected));                                       \
        dblink_free(check_s_);                                                 \
    } while (0)

/* Captures what is written to file descriptor 2 (stderr) between
 * stderr_capture_begin() and stderr_capture_end(): a library must not
 * print to its host's stderr. valgrind's own output uses a private
 * descriptor and is not captured. */
#include <unistd.h>

static FILE *stderr_capture_file = NULL;
static int stderr_saved_fd = -1;

static inline void stderr_capture_begin(void) {
    fflush(stderr);
    stderr_capture_file = tmpfile();
    CHECK(stderr_capture_file != NULL);
    stderr_saved_fd = dup(2);
    CHECK(stderr_saved_fd >= 0);
    CHECK(dup2(fileno(stderr_capture_file), 2) == 2);
}

/* Ends the capture; returns the captured text (caller frees). */
static inline char *stderr_capture_end(void) {
    fflush(stderr);
    CHECK(dup2(stderr_saved_fd, 2) == 2);
    close(stderr_saved_fd);
    stderr_saved_fd = -1;
    long n = ftell(stderr_capture_file);
    CHECK(n >= 0);
    char *text = malloc((size_t)n + 1);
    CHECK(text != NULL);
    rewind(stderr_capture_file);
    size_t got = fread(text, 1, (size_t)n, stderr_capture_file);
    text[got] = '\0';
    fclose(stderr_capture_file);
    stderr_capture_file = NULL;
    return text;
}

#endif /* PGDBLINK_TEST_COMMON_H */
