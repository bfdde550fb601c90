-- Was tests/async_diff.rs send_remote_function_raising_detail_hint_context.
-- A remote PL/pgSQL function raising P0001 'boom' with DETAIL and HINT:
-- get_result(false) shows it as a NOTICE with SQLSTATE, message, DETAIL,
-- HINT and CONTEXT (the PL/pgSQL line, then while executing query on
-- dblink connection named "a"); dblink_error_message is 'ERROR:  boom\n
-- DETAIL:  the detail\nHINT:  the hint\nCONTEXT:  PL/pgSQL function
-- :f() line 1 at RAISE'; get_result(true) raises the same as an ERROR.
\unique f
SELECT dblink_connect('a', :'dsn');
SELECT dblink_exec('a', 'create function :f() returns int language plpgsql as $$ begin raise exception ''boom'' using detail = ''the detail'', hint = ''the hint'', errcode = ''P0001''; end $$');
-- must be 1
SELECT dblink_send_query('a', 'select :f()');
-- must be (0 rows) after NOTICE P0001 boom, DETAIL, HINT, CONTEXT
SELECT * FROM dblink_get_result('a', false) AS t(x int);
-- must be the full text above
SELECT dblink_error_message('a');
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', false) AS t(x int);
-- must be 1
SELECT dblink_send_query('a', 'select :f()');
-- must fail: ERROR P0001 boom, the same DETAIL, HINT, CONTEXT as the NOTICE
SELECT * FROM dblink_get_result('a', true) AS t(x int);
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', true) AS t(x int);
SELECT dblink_exec('a', 'drop function :f()');
SELECT dblink_disconnect('a');
