-- Ported from tests/sync_diff.rs::dblink_command_returns_status_row.
-- dblink() with a command returns one row holding the command status.
SELECT dblink_connect('a', :'dsn');
-- must be one row: ('CREATE TABLE')
SELECT * FROM dblink('a', 'create temp table t1(x int)') AS t(s text);
SELECT * FROM dblink('a', 'create temp table t2(x int)', true) AS t(s text);
SELECT * FROM dblink('a', 'create temp table t3(x int)', false) AS t(s text);
-- must be one row: ('INSERT 0 2')
SELECT * FROM dblink('a', 'insert into t1 values (1), (2)', false) AS t(s text);
-- must be rows ('1'), ('2')
SELECT * FROM dblink('a', 'select x from t1 order by x', true) AS t(x text);
SELECT dblink_disconnect('a');
