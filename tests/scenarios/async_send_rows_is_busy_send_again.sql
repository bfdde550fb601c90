-- Was tests/async_diff.rs send_rows_get_is_busy_then_send_again.
-- After the rows result (before the final get), is_busy is 0 and a new
-- send works (1); its row comes back, then the end.
SELECT dblink_connect('a', :'dsn');
-- must be 1
SELECT dblink_send_query('a', 'select 7');
-- must be '7'
SELECT * FROM dblink_get_result('a', true) AS t(x int);
-- must be 0
SELECT dblink_is_busy('a');
-- must be 1
SELECT dblink_send_query('a', 'select 8');
-- must be '8'
SELECT * FROM dblink_get_result('a', true) AS t(x int);
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', true) AS t(x int);
SELECT dblink_disconnect('a');
