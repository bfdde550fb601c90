-- Ported from tests/sync_diff.rs::dblink_remote_error_fail_true_raises_remote_fields.
-- With fail_on_error true (or omitted) a remote error is raised with the
-- remote SQLSTATE, message, detail and hint, and the remote context followed
-- by dblink's context line.
SELECT dblink_connect('a', :'dsn');
-- must be ERROR P0001 'boom', DETAIL 'the detail', HINT 'the hint',
-- CONTEXT 'PL/pgSQL function inline_code_block line 1 at RAISE' then
-- 'while executing query on dblink connection named "a"'
SELECT * FROM dblink('a', 'do $$begin raise exception ''boom'' using detail = ''the detail'', hint = ''the hint'', errcode = ''P0001''; end$$', true) AS t(s text);
-- the same error (fail_on_error omitted)
SELECT * FROM dblink('a', 'do $$begin raise exception ''boom'' using detail = ''the detail'', hint = ''the hint'', errcode = ''P0001''; end$$') AS t(s text);
-- must be ERROR 22012 'division by zero'
SELECT * FROM dblink('a', 'select 1/0', true) AS t(x text);
-- must be one row ('2'): the connection still works
SELECT * FROM dblink('a', 'select 2', true) AS t(x text);
SELECT dblink_disconnect('a');
