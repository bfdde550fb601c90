-- Ported from tests/sync_diff.rs::dblink_while_async_query_running_inside_cursor_transaction.
-- dblink(fail false) while an async query runs inside dblink's cursor
-- transaction: ERROR XX000, the pending result is drained, the cursor survives.
SELECT dblink_connect('a', :'dsn');
SELECT dblink_open('a', 'c0', 'select g from generate_series(1, 2) g');
SELECT dblink_send_query('a', 'select pg_sleep(2)::text');
-- must be ERROR XX000 'could not send query: another command is already in progress'
SELECT * FROM dblink('a', 'select 99', false) AS t(x text);
-- must be 0
SELECT dblink_is_busy('a');
-- must be 0 rows
SELECT * FROM dblink_get_result('a', false) AS t(x text);
-- must be rows ('1'), ('2')
SELECT * FROM dblink_fetch('a', 'c0', 5) AS t(x text);
SELECT dblink_close('a', 'c0');
-- must be 'idle'
\state a
SELECT dblink_disconnect('a');
