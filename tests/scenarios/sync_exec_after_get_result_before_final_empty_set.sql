-- Ported from tests/sync_diff.rs::exec_after_get_result_before_final_empty_set.
-- dblink_exec after dblink_get_result returned the rows but before the final
-- empty set fails (08006).
SELECT dblink_connect('a', :'dsn');
SELECT dblink_send_query('a', 'select 11');
-- must be one row ('11')
SELECT * FROM dblink_get_result('a') AS t(x text);
-- must be ERROR 08006 'another command is already in progress'
SELECT dblink_exec('a', 'create temp table t(x int)');
-- must be 0 rows
SELECT * FROM dblink_get_result('a') AS t(x text);
-- must be 'CREATE TABLE'
SELECT dblink_exec('a', 'create temp table t(x int)');
SELECT dblink_disconnect('a');
