-- Was tests/async_diff.rs listen_notify_self_then_get_notify.
-- 'LISTEN c; NOTIFY c, 'payload1'; select pg_notify('c', ''); NOTIFY c' as
-- one send: four results (LISTEN, NOTIFY, '', NOTIFY), then the end.
-- dblink_get_notify then returns two rows, both from a's own backend
-- (:apid): (:chan, 'payload1') and (:chan, ''): the multi-statement query
-- is one transaction, so the duplicate (chan, '') is folded into one.
-- A second dblink_get_notify returns no rows (consumed).
\unique chan
SELECT dblink_connect('a', :'dsn');
\pid a apid
-- must be 1
SELECT dblink_send_query('a', 'LISTEN :chan; NOTIFY :chan, ''payload1''; select pg_notify('':chan'', ''''); NOTIFY :chan');
-- must be 'LISTEN'
SELECT * FROM dblink_get_result('a', true) AS t(s text);
-- must be 'NOTIFY'
SELECT * FROM dblink_get_result('a', true) AS t(s text);
-- must be ''
SELECT * FROM dblink_get_result('a', true) AS t(s text);
-- must be 'NOTIFY'
SELECT * FROM dblink_get_result('a', true) AS t(s text);
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', true) AS t(s text);
-- must be two rows: :chan | :apid | 'payload1' and :chan | :apid | ''
SELECT notify_name, be_pid, extra FROM dblink_get_notify('a');
-- must be (0 rows): consumed
SELECT notify_name, be_pid, extra FROM dblink_get_notify('a');
SELECT dblink_disconnect('a');
