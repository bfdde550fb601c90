-- Ported from tests/sync_diff.rs::dblink_multi_statement_error_fail_false_returns_earlier_rows_and_notice.
-- A multi-statement query failing in the middle: with fail_on_error false the
-- rows of the statement before the error come back, plus one NOTICE; with true
-- the error is raised.
SELECT dblink_connect('a', :'dsn');
-- must be one row ('1') and exactly one NOTICE, 22012
SELECT * FROM dblink('a', 'select 1; select 1/0; select 3', false) AS t(x text);
-- must be 0 rows
SELECT * FROM dblink('a', 'select 1/0; select 3', false) AS t(x text);
-- must be ERROR 22012 'division by zero'
SELECT * FROM dblink('a', 'select 1; select 1/0; select 3', true) AS t(x text);
-- must be one row ('2'): the last statement's result
SELECT * FROM dblink('a', 'select 1; select 2', true) AS t(x text);
SELECT dblink_disconnect('a');
