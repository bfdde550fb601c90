-- Was tests/async_diff.rs terminated_backend_then_send_get_then_cancel.
-- After a's backend is terminated, a send (1) and the failed get: a cancel
-- still returns 'OK' (the socket is open until the final result is read);
-- after the final (NULL) result libpq has closed the socket, and a cancel
-- reports that it was not sent: dblink 17+ and pgdblink say 'connection
-- not open', dblink 15 says 'PQcancel() -- no cancel object supplied'. A
-- send on the closed connection is 0.
SELECT dblink_connect('a', :'dsn');
\terminate a
-- must be 1
SELECT dblink_send_query('a', 'select 1');
-- the failure: NOTICE 57P01 (the FATAL the terminated backend sent), no rows
SELECT * FROM dblink_get_result('a', false) AS t(x int);
-- must be 'OK'
SELECT dblink_cancel_query('a');
-- the final get: NOTICE 08006 FATAL: ... server closed the connection
-- unexpectedly ... invalid socket, no rows
SELECT * FROM dblink_get_result('a', false) AS t(x int);
-- pgdblink follows dblink 17: its cancel uses libpq's PQcancelCreate (as the product requires); dblink 15's PQgetCancel finds no socket and says 'PQcancel() -- no cancel object supplied'
SELECT dblink_cancel_query('a');
-- must be 0
SELECT dblink_send_query('a', 'select 1');
-- pgdblink follows dblink 17: its cancel uses libpq's PQcancelCreate (as the product requires); dblink 15's PQgetCancel finds no socket and says 'PQcancel() -- no cancel object supplied'
SELECT dblink_cancel_query('a');
-- must be 'OK'
SELECT dblink_disconnect('a');
