-- Was tests/async_diff.rs terminated_backend_then_send_get_error_message.
-- After a's backend is terminated: is_busy 0, error_message 'OK'; the send
-- succeeds (1: the write is buffered); get_result(false) shows NOTICE 08006
-- E'server closed the connection unexpectedly\n\tThis probably means the
-- server terminated abnormally\n\tbefore or while processing the
-- request.\ninvalid socket', CONTEXT while executing query on dblink
-- connection named "a", no rows; error_message is that text; another get
-- has no NOTICE and no rows; another send is 0 with NOTICE 00000 could not
-- send query: no connection to the server; error_message is then 'no
-- connection to the server'; get_result(true) on the broken connection has
-- no rows; the entry stays listed until disconnected ('OK').
SELECT dblink_connect('a', :'dsn');
\terminate a
-- must be 0
SELECT dblink_is_busy('a');
-- must be 'OK'
SELECT dblink_error_message('a');
-- must be 1
SELECT dblink_send_query('a', 'select 1');
-- must be (0 rows) after NOTICE 08006 as above
SELECT * FROM dblink_get_result('a', false) AS t(x int);
-- must be the server closed ... invalid socket text
SELECT dblink_error_message('a');
-- must be (0 rows), no NOTICE
SELECT * FROM dblink_get_result('a', false) AS t(x int);
-- must be 0 after NOTICE 00000 could not send query: no connection to the server
SELECT dblink_send_query('a', 'select 1');
-- must be 'no connection to the server'
SELECT dblink_error_message('a');
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', true) AS t(x int);
-- must list a
SELECT dblink_get_connections();
-- must be 'OK'
SELECT dblink_disconnect('a');
