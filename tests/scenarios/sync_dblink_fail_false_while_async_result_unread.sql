-- Ported from tests/sync_diff.rs::dblink_fail_false_while_async_result_unread_drains_and_fails.
-- dblink(fail false) while an async result waits unread: still an ERROR
-- (XX000, no NOTICE), and the unread result is drained.
SELECT dblink_connect('a', :'dsn');
SELECT dblink_send_query('a', 'select 1::text');
-- must be 'idle'
\wait_idle a
-- must be ERROR XX000 'could not send query: another command is already in
-- progress' and no NOTICE
SELECT * FROM dblink('a', 'select 99', false) AS t(x text);
SELECT dblink_is_busy('a');
-- must be 0 rows
SELECT * FROM dblink_get_result('a') AS t(x text);
-- must be one row ('5')
SELECT * FROM dblink('a', 'select 5') AS t(x text);
SELECT dblink_disconnect('a');
