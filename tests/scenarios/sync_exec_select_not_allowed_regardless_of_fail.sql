-- Ported from tests/sync_diff.rs::exec_select_not_allowed_regardless_of_fail.
-- dblink_exec of a statement returning rows is an ERROR whatever
-- fail_on_error says: 2F003, no CONTEXT.
SELECT dblink_connect('a', :'dsn');
-- must be ERROR 2F003 'statement returning results not allowed', no CONTEXT
SELECT dblink_exec('a', 'select 1');
-- the same
SELECT dblink_exec('a', 'select 1', true);
-- the same
SELECT dblink_exec('a', 'select 1', false);
-- the same (no rows, but still a tuples result)
SELECT dblink_exec('a', 'select 1 where false', false);
-- must be 'OK'
SELECT dblink_error_message('a');
-- must be ERROR 2F003, no CONTEXT (the last statement returns rows)
SELECT dblink_exec('a', 'create temp table t4(x int); select 1', false);
-- must be 'INSERT 0 1' (the CREATE before the SELECT stayed)
SELECT dblink_exec('a', 'insert into t4 values (1)', true);
SELECT dblink_disconnect('a');
