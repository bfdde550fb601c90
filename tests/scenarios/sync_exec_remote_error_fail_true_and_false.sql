-- Ported from tests/sync_diff.rs::exec_remote_error_fail_true_and_false.
-- dblink_exec's remote errors: raised with the remote fields (fail true) or a
-- NOTICE and 'ERROR' (fail false); an empty command has no message.
SELECT dblink_connect('a', :'dsn');
-- must be ERROR P0001, CONTEXT 'PL/pgSQL function inline_code_block line 1 at RAISE'
-- then 'while executing command on dblink connection named "a"'
SELECT dblink_exec('a', 'do $$begin raise exception ''boom'' using detail = ''the detail'', hint = ''the hint'', errcode = ''P0001''; end$$', true);
-- must be 'ERROR' with exactly one NOTICE
SELECT dblink_exec('a', 'do $$begin raise exception ''boom'' using detail = ''the detail'', hint = ''the hint'', errcode = ''P0001''; end$$', false);
SELECT dblink_exec('a', 'create temp table u(x int primary key)');
SELECT dblink_exec('a', 'insert into u values (1)');
-- must be ERROR 23505 'duplicate key value violates unique constraint "u_pkey"',
-- DETAIL 'Key (x)=(1) already exists.'
SELECT dblink_exec('a', 'insert into u values (1)');
-- must be 'ERROR'
SELECT dblink_exec('a', 'insert into u values (1)', false);
SELECT dblink_error_message('a');
SELECT dblink_exec('a', 'select 1/0', false);
-- must be ERROR 08006 'could not obtain message string for remote error'
SELECT dblink_exec('a', '', true);
-- must be 'ERROR'
SELECT dblink_exec('a', '', false);
SELECT dblink_disconnect('a');
