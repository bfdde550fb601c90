-- Ported from tests/sync_diff.rs::dblink_and_exec_with_connstr_use_a_temporary_connection.
-- A connection string in place of a name: dblink() and dblink_exec use a
-- temporary connection each time; contexts say "unnamed dblink connection".
-- must be one row ('42')
SELECT * FROM dblink(:'dsn', 'select 42') AS t(x text);
-- must be an ERROR with CONTEXT 'while executing query on unnamed dblink connection'
SELECT * FROM dblink(:'dsn', 'select 1/0', true) AS t(x text);
-- must be a NOTICE with CONTEXT 'while executing query on unnamed dblink connection'
SELECT * FROM dblink(:'dsn', 'select 1/0', false) AS t(x text);
-- must be one row ('CREATE TABLE')
SELECT * FROM dblink(:'dsn', 'create temp table zz(x int)', false) AS t(s text);
-- must be 'CREATE TABLE'
SELECT dblink_exec(:'dsn', 'create temp table zz(x int)');
-- must be ERROR 2F003 'statement returning results not allowed'
SELECT dblink_exec(:'dsn', 'select 1', false);
-- must be an ERROR with CONTEXT 'while executing command on unnamed dblink connection'
SELECT dblink_exec(:'dsn', 'select 1/0', true);
-- must be 'ERROR'
SELECT dblink_exec(:'dsn', 'select 1/0', false);
-- a fresh temporary connection each time: the temp table is gone, so this
-- must show a NOTICE 42P01
SELECT dblink_exec(:'dsn', 'insert into zz values (1)', false);
