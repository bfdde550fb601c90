-- Ported from tests/sync_diff.rs::dblink_command_then_error_fail_false_returns_empty_set.
-- Multi-statement dblink() strings mixing commands and queries.
SELECT dblink_connect('a', :'dsn');
-- must be 0 rows and exactly one NOTICE
SELECT * FROM dblink('a', 'create temp table ce(x int); select 1/0', false) AS t(x text);
-- must be one row ('2')
SELECT * FROM dblink('a', 'select 1; select 2; select 1/0', false) AS t(x text);
-- must be one row ('DO')
SELECT * FROM dblink('a', 'do $$begin end$$', false) AS t(s text);
-- must be one row ('4')
SELECT * FROM dblink('a', 'do $$begin end$$; select 4', true) AS t(x text);
SELECT dblink_disconnect('a');
