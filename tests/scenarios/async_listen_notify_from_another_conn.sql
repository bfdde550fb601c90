-- Was tests/async_diff.rs listen_notify_from_another_connection_then_get_notify.
-- With nothing pending dblink_get_notify returns no rows; a LISTEN sent
-- through the async family comes back as 'LISTEN', then the end; a
-- pg_notify from connection b is delivered asynchronously to a: one row
-- (:chan, b's backend pid :bpid, 'payload1'); a second dblink_get_notify
-- returns no rows (consumed).
\unique chan
SELECT dblink_connect('a', :'dsn');
SELECT dblink_connect('b', :'dsn');
-- must be (0 rows)
SELECT notify_name, be_pid, extra FROM dblink_get_notify('a');
-- must be 1
SELECT dblink_send_query('a', 'LISTEN :chan');
-- must be 'LISTEN'
SELECT * FROM dblink_get_result('a', true) AS t(s text);
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', true) AS t(s text);
\pid b bpid
SELECT * FROM dblink('b', 'select pg_notify('':chan'', ''payload1'')') AS t(x text);
-- must be one row :chan | :bpid | 'payload1'
\retry SELECT notify_name, be_pid, extra FROM dblink_get_notify('a');
-- must be (0 rows): consumed
SELECT notify_name, be_pid, extra FROM dblink_get_notify('a');
SELECT dblink_disconnect('a');
SELECT dblink_disconnect('b');
