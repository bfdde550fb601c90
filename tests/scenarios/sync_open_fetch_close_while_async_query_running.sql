-- Ported from tests/sync_diff.rs::open_fetch_close_while_async_query_running_keep_pending_result.
-- open/fetch/close while an async query runs fail (08006) and keep the pending
-- result. libpq appends to its error buffer with each failed send, so the
-- message grows by one line per call.
SELECT dblink_connect('a', :'dsn');
SELECT dblink_open('a', 'c0', 'select g from generate_series(1, 3) g');
SELECT dblink_send_query('a', 'select pg_sleep(2)::text');
-- must be ERROR 08006, the message 'another command is already in progress'
-- once, CONTEXT 'while opening cursor "c1" on dblink connection named "a"'
SELECT dblink_open('a', 'c1', 'select 99', true);
-- must be 'ERROR' with one NOTICE, the same CONTEXT
SELECT dblink_open('a', 'c1', 'select 99', false);
-- must be ERROR 08006, the message 3 times (3 lines), CONTEXT
-- 'while fetching from cursor "c0" on dblink connection named "a"'
SELECT * FROM dblink_fetch('a', 'c0', 1, true) AS t(x text);
-- must be 0 rows with one NOTICE, the same CONTEXT
SELECT * FROM dblink_fetch('a', 'c0', 1, false) AS t(x text);
-- must be ERROR 08006, the message 5 times (5 lines), CONTEXT
-- 'while closing cursor "c0" on dblink connection named "a"'
SELECT dblink_close('a', 'c0', true);
-- must be 'ERROR' with one NOTICE, the same CONTEXT
SELECT dblink_close('a', 'c0', false);
-- must be 1
SELECT dblink_is_busy('a');
-- must be one row ('')
SELECT * FROM dblink_get_result('a') AS t(x text);
SELECT * FROM dblink_get_result('a') AS t(x text);
-- must be one row ('1')
SELECT * FROM dblink_fetch('a', 'c0', 1) AS t(x text);
-- the failed opens counted as cursors of dblink's transaction, so this close
-- does not commit
SELECT dblink_close('a', 'c0');
-- must be 'idle in transaction'
\state a
SELECT dblink_exec('a', 'COMMIT');
\state a
SELECT dblink_disconnect('a');
