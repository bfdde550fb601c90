-- Ported from tests/sync_diff.rs::exec_while_async_query_running_keeps_pending_result.
-- dblink_exec while an async query runs fails (08006) but leaves the pending
-- result to dblink_get_result.
SELECT dblink_connect('a', :'dsn');
SELECT dblink_send_query('a', 'select pg_sleep(2)::text');
-- must be ERROR 08006 'another command is already in progress',
-- CONTEXT 'while executing command on dblink connection named "a"'
SELECT dblink_exec('a', 'create temp table t(x int)', true);
-- must be 'ERROR' with a NOTICE 08006
SELECT dblink_exec('a', 'create temp table t(x int)', false);
-- libpq appends to its error buffer: two failed sends, two lines:
-- must be E'another command is already in progress\nanother command is already in progress'
SELECT dblink_error_message('a');
-- must be 1
SELECT dblink_is_busy('a');
-- must be one row ('')
SELECT * FROM dblink_get_result('a') AS t(x text);
-- must be 0 rows
SELECT * FROM dblink_get_result('a') AS t(x text);
-- must be 'CREATE TABLE'
SELECT dblink_exec('a', 'create temp table t(x int)');
SELECT dblink_disconnect('a');
