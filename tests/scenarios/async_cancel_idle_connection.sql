-- Was tests/async_diff.rs cancel_idle_connection.
-- Cancelling an idle connection returns 'OK' and harms nothing.
SELECT dblink_connect('a', :'dsn');
-- must be 'OK'
SELECT dblink_cancel_query('a');
-- must be 1
SELECT dblink_send_query('a', 'select ''after''');
-- must be 'after'
SELECT * FROM dblink_get_result('a', true) AS t(x text);
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', true) AS t(x text);
SELECT dblink_disconnect('a');
