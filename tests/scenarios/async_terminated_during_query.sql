-- Was tests/async_diff.rs terminated_backend_during_query.
-- a's backend is terminated while running pg_sleep(30): get_result(false)
-- shows one NOTICE 57P01 and no rows; dblink_error_message is 'FATAL:
-- terminating connection due to administrator command'.
SELECT dblink_connect('a', :'dsn');
-- must be 1
SELECT dblink_send_query('a', 'select pg_sleep(30)');
\wait_active a
\terminate a
-- must be (0 rows) after one NOTICE 57P01
SELECT * FROM dblink_get_result('a', false) AS t(x text);
-- must be 'FATAL:  terminating connection due to administrator command'
SELECT dblink_error_message('a');
-- must be 'OK'
SELECT dblink_disconnect('a');
