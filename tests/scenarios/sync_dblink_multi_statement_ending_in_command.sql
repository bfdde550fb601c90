-- Ported from tests/sync_diff.rs::dblink_multi_statement_ending_in_command_returns_status_row.
-- A multi-statement query: the last statement decides what dblink() returns.
SELECT dblink_connect('a', :'dsn');
-- must be one row ('CREATE TABLE')
SELECT * FROM dblink('a', 'select 1; create temp table m(x int)', true) AS t(s text);
SELECT * FROM dblink('a', 'select 1; create temp table m2(x int)', false) AS t(s text);
-- must be one row ('7')
SELECT * FROM dblink('a', 'create temp table m3(x int); select 7', false) AS t(x text);
SELECT dblink_disconnect('a');
