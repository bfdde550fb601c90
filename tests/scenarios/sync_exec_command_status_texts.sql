-- Ported from tests/sync_diff.rs::exec_command_status_texts.
-- dblink_exec returns the command status text; an explicit BEGIN/COMMIT
-- moves the remote backend in and out of a transaction.
SELECT dblink_connect('a', :'dsn');
-- must be 'CREATE TABLE'
SELECT dblink_exec('a', 'create temp table t(x int)');
-- must be 'INSERT 0 2'
SELECT dblink_exec('a', 'insert into t values (1), (2)', true);
-- must be 'UPDATE 2'
SELECT dblink_exec('a', 'update t set x = x + 1', false);
-- must be 'BEGIN'
SELECT dblink_exec('a', 'begin', true);
-- must be 'idle in transaction'
\state a
-- must be 'DELETE 1'
SELECT dblink_exec('a', 'delete from t where x = 3', false);
-- must be 'COMMIT'
SELECT dblink_exec('a', 'commit', false);
-- must be 'idle'
\state a
-- must be 'CREATE TABLE' (the last statement's status)
SELECT dblink_exec('a', 'select 1; create temp table t5(x int)', true);
SELECT dblink_disconnect('a');
