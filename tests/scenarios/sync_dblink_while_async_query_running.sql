-- Ported from tests/sync_diff.rs::dblink_while_async_query_running_drains_and_fails.
-- dblink() while an async query runs: the send fails (XX000, no CONTEXT),
-- dblink drains the pending result, which is lost to dblink_get_result.
SELECT dblink_connect('a', :'dsn');
-- must be 1
SELECT dblink_send_query('a', 'select pg_sleep(2)::text');
-- must be ERROR XX000 'could not send query: another command is already in
-- progress', no CONTEXT
SELECT * FROM dblink('a', 'select 99', true) AS t(x text);
-- must be 'another command is already in progress'
SELECT dblink_error_message('a');
-- must be 0
SELECT dblink_is_busy('a');
-- must be 0 rows
SELECT * FROM dblink_get_result('a') AS t(x text);
SELECT * FROM dblink_get_result('a') AS t(x text);
-- must be one row ('5')
SELECT * FROM dblink('a', 'select 5') AS t(x text);
SELECT dblink_disconnect('a');
