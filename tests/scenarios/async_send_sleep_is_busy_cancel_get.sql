-- Was tests/async_diff.rs send_sleep_is_busy_cancel_get.
-- A running query is busy; dblink_cancel_query returns 'OK'; get_result
-- (false) shows NOTICE 57014 canceling statement due to user request and
-- no rows; dblink_error_message is 'ERROR:  canceling statement due to
-- user request'; then the end.
SELECT dblink_connect('a', :'dsn');
-- must be 1
SELECT dblink_send_query('a', 'select pg_sleep(5)');
-- must be 1
SELECT dblink_is_busy('a');
\wait_active a
-- must be 'OK'
SELECT dblink_cancel_query('a');
-- must be (0 rows) after one NOTICE 57014 canceling statement due to user request
SELECT * FROM dblink_get_result('a', false) AS t(x text);
-- must be 'ERROR:  canceling statement due to user request'
SELECT dblink_error_message('a');
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', false) AS t(x text);
SELECT dblink_disconnect('a');
