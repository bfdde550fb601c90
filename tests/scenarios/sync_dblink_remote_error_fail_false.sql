-- Ported from tests/sync_diff.rs::dblink_remote_error_fail_false_notices_and_returns_empty_set.
-- With fail_on_error false a remote error becomes a NOTICE and dblink()
-- returns an empty set; dblink_error_message shows the error.
SELECT dblink_connect('a', :'dsn');
-- must be 0 rows and exactly one NOTICE, P0001
SELECT * FROM dblink('a', 'do $$begin raise exception ''boom'' using detail = ''the detail'', hint = ''the hint'', errcode = ''P0001''; end$$', false) AS t(s text);
-- must be a NOTICE 22012 with CONTEXT 'while executing query on dblink connection named "a"'
SELECT * FROM dblink('a', 'select 1/0', false) AS t(x text);
-- must be 'ERROR:  division by zero'
SELECT dblink_error_message('a');
SELECT * FROM dblink('a', 'select 2', false) AS t(x text);
SELECT dblink_disconnect('a');
