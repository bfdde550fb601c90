-- Ported from tests/sync_diff.rs::dblink_after_async_command_unread_drains_and_fails.
-- dblink() after an async command whose result is unread: ERROR XX000; the
-- command's result is drained but the command itself took effect.
SELECT dblink_connect('a', :'dsn');
SELECT dblink_send_query('a', 'create temp table if not exists tt(x int)');
\wait_idle a
-- must be ERROR XX000 'could not send query: another command is already in progress'
SELECT * FROM dblink('a', 'select 99') AS t(x text);
-- must be 0 rows
SELECT * FROM dblink_get_result('a') AS t(s text);
-- must be 'INSERT 0 1'
SELECT dblink_exec('a', 'insert into tt values (1)');
SELECT dblink_disconnect('a');
