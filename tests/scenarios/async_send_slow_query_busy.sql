-- Was tests/async_diff.rs send_slow_query_is_busy_until_done.
-- Right after sending a 0.5 s query is_busy is 1; get_result waits for it
-- (one row ''); afterwards is_busy is 0; then the end.
SELECT dblink_connect('a', :'dsn');
-- must be 1
SELECT dblink_send_query('a', 'select pg_sleep(0.5)::text');
-- must be 1
SELECT dblink_is_busy('a');
-- must be one row ''
SELECT * FROM dblink_get_result('a', true) AS t(x text);
-- must be 0
SELECT dblink_is_busy('a');
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', true) AS t(x text);
SELECT dblink_disconnect('a');
