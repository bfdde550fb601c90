-- Was tests/async_diff.rs send_sleep_cancel_get_with_fail.
-- After a cancel, get_result(true) raises ERROR 57014 with CONTEXT while
-- executing query on dblink connection named "a"; then the end.
SELECT dblink_connect('a', :'dsn');
-- must be 1
SELECT dblink_send_query('a', 'select pg_sleep(5)');
\wait_active a
-- must be 'OK'
SELECT dblink_cancel_query('a');
-- must fail: ERROR 57014, CONTEXT ... "a"
SELECT * FROM dblink_get_result('a', true) AS t(x text);
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', true) AS t(x text);
SELECT dblink_disconnect('a');
