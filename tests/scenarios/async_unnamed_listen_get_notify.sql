-- Was tests/async_diff.rs connect_unnamed_listen_get_notify_unnamed.
-- LISTEN and NOTIFY through the unnamed connection (dblink_exec); then
-- dblink_get_notify() returns the one notification, from its own backend.
SELECT dblink_connect(:'dsn');
\unique chan
\pid upid
SELECT dblink_exec('LISTEN :chan; NOTIFY :chan, ''u''');
-- must be one row: :chan, :upid (the unnamed connection's backend), 'u'
SELECT notify_name, be_pid, extra FROM dblink_get_notify();
SELECT dblink_disconnect();
