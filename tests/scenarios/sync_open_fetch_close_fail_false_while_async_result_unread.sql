-- Ported from tests/sync_diff.rs::open_fetch_close_fail_false_while_async_result_unread.
-- open/fetch/close with fail false while an async result waits unread: NOTICEs,
-- and the result stays for dblink_get_result.
SELECT dblink_connect('a', :'dsn');
SELECT dblink_send_query('a', 'select 12');
\wait_idle a
-- must be 'ERROR' with a NOTICE 08006
SELECT dblink_open('a', 'c', 'select 1', false);
-- must be 0 rows
SELECT * FROM dblink_fetch('a', 'c', 1, false) AS t(x text);
-- must be 'ERROR'
SELECT dblink_close('a', 'c', false);
-- must be one row ('12')
SELECT * FROM dblink_get_result('a') AS t(x text);
-- must be 0 rows
SELECT * FROM dblink_get_result('a') AS t(x text);
-- must be 'idle'
\state a
SELECT dblink_disconnect('a');
