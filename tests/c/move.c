/* Moving data through the C API: COPY streaming (out, in, between), pipelines,
 * exec_batch, and the build_sql / get_pkey functions. */
#include "common.h"

static void exec_ok(const char *name, const char *sql) {
    char *s = dblink_exec(name, sql, 1);
    CHECK(s != NULL);
    dblink_free(s);
}

int main(void) {
    const char *dsn = test_dsn();
    CHECK_INT(dblink_connect("m", dsn), 1);
    CHECK_INT(dblink_connect("m2", dsn), 1);
    exec_ok("m", "create temp table src (id int primary key, t text, b bytea)");
    exec_ok("m", "insert into src values (1, E'tab\\there\\nnew line \\\\ back', '\\x00ff'),"
                 " (2, null, null), (3, 'ünïcødé 🦀', '\\x')");

    STEP("copy out: whole rows, binary-safe buffers freed with dblink_free");
    CHECK_INT(dblink_copy_out_start("m", "copy src to stdout (format binary)"), 1);
    char *data = NULL;
    size_t total = 0, cap = 0;
    char *all = NULL;
    for (;;) {
        char *buf = (char *)1;
        int n = dblink_copy_out_read("m", &buf);
        CHECK(n >= 0);
        if (n == 0) {
            CHECK(buf == NULL);
            break;
        }
        CHECK(buf != NULL);
        if (total + (size_t)n > cap) {
            cap = (total + (size_t)n) * 2;
            all = realloc(all, cap);
            CHECK(all != NULL);
        }
        memcpy(all + total, buf, (size_t)n);
        total += (size_t)n;
        dblink_free(buf);
    }
    CHECK(total > 19); /* the binary header */
    CHECK_STR_AND_FREE(dblink_copy_out_end("m"), "COPY 3");
    (void)data;

    STEP("copy in: the same bytes back, in pieces");
    exec_ok("m", "create temp table dst (like src)");
    CHECK_INT(dblink_copy_in_start("m", "copy dst from stdin (format binary)"), 1);
    for (size_t off = 0; off < total; off += 5) {
        int n = (int)(total - off < 5 ? total - off : 5);
        CHECK_INT(dblink_copy_in_write("m", all + off, n), 1);
    }
    CHECK_STR_AND_FREE(dblink_copy_in_end("m", NULL), "COPY 3");
    free(all);
    dblink_result *r = dblink("m", "select count(*) from (select * from src except select * from dst) d", 1);
    CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 1);
    CHECK_STR(dblink_result_getvalue(r, 0, 0), "0");
    dblink_result_free(r);

    STEP("copy in: abort, malformed data, calls refused during a COPY");
    CHECK_INT(dblink_copy_in_start("m", "copy dst from stdin"), 1);
    r = dblink("m", "select 1", 1);
    CHECK(r == NULL);
    CHECK_STR(dblink_last_sqlstate(), "55000");
    CHECK_STR(dblink_last_error(), "a COPY FROM STDIN is in progress on connection \"m\"");
    CHECK_INT(dblink_copy_in_write("m", "9\tx\t\\N\n", 7), 1);
    CHECK_STR_AND_FREE(dblink_copy_in_end("m", "changed my mind"), "ABORTED");
    CHECK_INT(dblink_copy_in_start("m", "copy dst from stdin"), 1);
    CHECK_INT(dblink_copy_in_write("m", "x\n", 2), 1);
    CHECK(dblink_copy_in_end("m", NULL) == NULL);
    CHECK_STR(dblink_last_sqlstate(), "22P02");
    CHECK_INT(dblink_copy_in_write("m", "x\n", 2), -1);
    CHECK_STR(dblink_last_sqlstate(), "55000");
    CHECK(dblink_copy_out_end("m") == NULL);
    CHECK_STR(dblink_last_sqlstate(), "55000");
    CHECK_INT(dblink_copy_out_read("m", NULL), -1);
    CHECK_STR(dblink_last_sqlstate(), "22004");

    STEP("copy between two connections");
    exec_ok("m2", "create temp table dst2 (id int, t text, b bytea)");
    long long n = dblink_copy_between("m", "copy src to stdout", "m2", "copy dst2 from stdin");
    CHECK_INT(n, 3);
    n = dblink_copy_between("m", "copy (select 1/0) to stdout", "m2", "copy dst2 from stdin");
    CHECK_INT(n, -1);
    CHECK_STR(dblink_last_sqlstate(), "22012");
    r = dblink("m2", "select count(*) from dst2", 1);
    CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 1);
    CHECK_STR(dblink_result_getvalue(r, 0, 0), "3");
    dblink_result_free(r);

    STEP("pipeline: order, error, aborted, sync");
    CHECK_INT(dblink_pipeline_begin("m"), 1);
    const char *v1[1] = {"21"};
    CHECK_INT(dblink_send_query_params("m", "select $1::int * 2", 1, v1), 1);
    CHECK_INT(dblink_send_query_params("m", "select 1/0", 0, NULL), 1);
    CHECK_INT(dblink_send_query_params("m", "select 3", 0, NULL), 1);
    CHECK_INT(dblink_pipeline_sync("m"), 1);
    CHECK_INT(dblink_pipeline_end("m") == 1 ? 0 : 1, 1); /* results unread: refused */
    CHECK_STR(dblink_last_sqlstate(), "55000");
    dblink_status expected[] = {DBLINK_STATUS_TUPLES, DBLINK_STATUS_DONE, DBLINK_STATUS_ERROR,
                                DBLINK_STATUS_DONE, DBLINK_STATUS_PIPELINE_ABORTED,
                                DBLINK_STATUS_DONE, DBLINK_STATUS_PIPELINE_SYNC};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        r = dblink_get_result("m", 0);
        CHECK(r != NULL);
        CHECK_INT(dblink_result_status(r), expected[i]);
        if (i == 0) CHECK_STR(dblink_result_getvalue(r, 0, 0), "42");
        dblink_result_free(r);
    }
    CHECK_INT(dblink_pipeline_end("m"), 1);
    CHECK_INT(dblink_pipeline_sync("m"), -1);
    CHECK_STR(dblink_last_sqlstate(), "55000");

    STEP("exec_batch");
    exec_ok("m", "create temp table items (id int primary key, label text)");
    const char *values[] = {"1", "one", "2", NULL, "3", "three"};
    CHECK_INT(dblink_exec_batch("m", "insert into items values ($1, $2)", 2, values, 3), 3);
    CHECK_INT(dblink_exec_batch("m", "insert into items values ($1, $2)", 2, values, 3), -1);
    CHECK_STR(dblink_last_sqlstate(), "23505");

    STEP("get_pkey and build_sql_*");
    r = dblink_get_pkey("m", "items");
    CHECK_RESULT(r, DBLINK_STATUS_TUPLES, 1, 2);
    CHECK_STR(dblink_result_fname(r, 0), "position");
    CHECK_STR(dblink_result_getvalue(r, 0, 1), "id");
    dblink_result_free(r);
    const int pk[1] = {1};
    const char *const srcv[1] = {"1"};
    const char *const tgtv[1] = {"10"};
    CHECK_STR_AND_FREE(dblink_build_sql_insert("m", "items", pk, 1, srcv, tgtv),
                       "INSERT INTO items(id,label) VALUES('10','one')");
    CHECK_STR_AND_FREE(dblink_build_sql_update("m", "items", pk, 1, srcv, tgtv),
                       "UPDATE items SET id = '10', label = 'one' WHERE id = '10'");
    CHECK_STR_AND_FREE(dblink_build_sql_delete("m", "items", pk, 1, tgtv),
                       "DELETE FROM items WHERE id = '10'");
    const char *const missing[1] = {"99"};
    CHECK(dblink_build_sql_insert("m", "items", pk, 1, missing, tgtv) == NULL);
    CHECK_STR(dblink_last_error(), "source row not found");

    CHECK_INT(dblink_disconnect("m"), 1);
    CHECK_INT(dblink_disconnect("m2"), 1);
    dblink_disconnect_all();
    printf("move: all checks passed\n");
    return 0;
}
