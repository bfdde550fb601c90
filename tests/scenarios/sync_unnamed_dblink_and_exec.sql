-- Ported from tests/sync_diff.rs::unnamed_dblink_and_exec.
-- dblink() and dblink_exec on the unnamed connection; contexts say
-- "unnamed dblink connection".
SELECT dblink_connect(:'dsn');
-- must be one row ('1')
SELECT * FROM dblink('select 1') AS t(x text);
-- must be an ERROR with CONTEXT 'while executing query on unnamed dblink connection'
SELECT * FROM dblink('select 1/0') AS t(x text);
-- must be a NOTICE with CONTEXT 'while executing query on unnamed dblink connection'
SELECT * FROM dblink('select 1/0', false) AS t(x text);
SELECT dblink_exec('create temp table q(x int)');
SELECT dblink_exec('insert into q values (1)', false);
-- must be an ERROR with CONTEXT 'while executing command on unnamed dblink connection'
SELECT dblink_exec('select 1/0', true);
-- must be 'ERROR'
SELECT dblink_exec('select 1/0', false);
-- must be ERROR 2F003 'statement returning results not allowed'
SELECT dblink_exec('select 1', false);
SELECT * FROM dblink('select x from q', true) AS t(x text);
SELECT dblink_disconnect();
-- must be ERROR 08003 'connection not available'
SELECT dblink_disconnect();
