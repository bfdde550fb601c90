-- Ported from tests/sync_diff.rs::exec_while_async_result_unread_keeps_pending_result.
-- dblink_exec while an async result waits unread fails but keeps the result.
SELECT dblink_connect('a', :'dsn');
SELECT dblink_send_query('a', 'select 1::text');
\wait_idle a
-- must be 'ERROR'
SELECT dblink_exec('a', 'create temp table t(x int)', false);
-- must be one row ('1')
SELECT * FROM dblink_get_result('a') AS t(x text);
-- must be 0 rows
SELECT * FROM dblink_get_result('a') AS t(x text);
SELECT dblink_send_query('a', 'create temp table if not exists tt(x int)');
\wait_idle a
-- must be ERROR 08006 'another command is already in progress'
SELECT dblink_exec('a', 'create temp table t(x int)', true);
-- must be one row ('CREATE TABLE')
SELECT * FROM dblink_get_result('a') AS t(s text);
SELECT * FROM dblink_get_result('a') AS t(s text);
-- must be 'CREATE TABLE'
SELECT dblink_exec('a', 'create temp table t(x int)', true);
SELECT dblink_disconnect('a');
