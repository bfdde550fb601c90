-- Was tests/async_diff.rs send_do_block_raising_with_hint.
-- A DO block raising 22023 with a HINT: get_result(true) raises ERROR
-- 22023, HINT try again, CONTEXT PL/pgSQL function inline_code_block line
-- 1 at RAISE, then while executing query on dblink connection named "a".
SELECT dblink_connect('a', :'dsn');
-- must be 1
SELECT dblink_send_query('a', 'do $$ begin raise exception ''custom'' using errcode = ''22023'', hint = ''try again''; end $$');
-- must fail: ERROR 22023 custom, HINT try again, CONTEXT as above
SELECT * FROM dblink_get_result('a', true) AS t(s text);
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', true) AS t(s text);
SELECT dblink_disconnect('a');
