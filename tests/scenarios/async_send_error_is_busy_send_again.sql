-- Was tests/async_diff.rs send_error_get_is_busy_then_send_again.
-- After the error result, is_busy consumes the pending ReadyForQuery: the
-- connection is idle (0) and a new send works (1), clearing
-- dblink_error_message ('OK'); its row comes back, then the end.
SELECT dblink_connect('a', :'dsn');
-- must be 1
SELECT dblink_send_query('a', 'select 1/0');
-- the error (NOTICE 22012), no rows
SELECT * FROM dblink_get_result('a', false) AS t(x int);
\wait_not_busy a
-- must be 0
SELECT dblink_is_busy('a');
-- must be 1
SELECT dblink_send_query('a', 'select 5');
-- must be 'OK'
SELECT dblink_error_message('a');
-- must be '5'
SELECT * FROM dblink_get_result('a', true) AS t(x int);
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', true) AS t(x int);
SELECT dblink_disconnect('a');
