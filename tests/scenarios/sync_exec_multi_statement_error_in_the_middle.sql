-- Ported from tests/sync_diff.rs::exec_multi_statement_error_in_the_middle.
-- dblink_exec of a multi-statement string failing in the middle: the
-- implicit transaction of the string rolls back.
SELECT dblink_connect('a', :'dsn');
-- must be 'ERROR' with a NOTICE 22012, CONTEXT
-- 'while executing command on dblink connection named "a"'
SELECT dblink_exec('a', 'create temp table ma(x int); select 1/0; create temp table mb(x int)', false);
-- the implicit transaction rolled back: must show a NOTICE 42P01
SELECT dblink_exec('a', 'insert into ma values (1)', false);
-- must be ERROR 22012 'division by zero'
SELECT dblink_exec('a', 'create temp table ma(x int); select 1/0; create temp table mb(x int)', true);
-- must be 'INSERT 0 3'
SELECT dblink_exec('a', 'create temp table ma(x int); insert into ma values (1), (2), (3)');
SELECT dblink_disconnect('a');
