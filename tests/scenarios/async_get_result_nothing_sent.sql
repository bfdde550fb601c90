-- Was tests/async_diff.rs get_result_with_nothing_sent.
-- get_result with nothing sent returns no rows (with and without
-- fail_on_error) and leaves dblink_error_message 'OK'.
-- (Not expressible here: pgdblink's result status Done.)
SELECT dblink_connect('a', :'dsn');
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', true) AS t(x int);
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', false) AS t(x int);
-- must be 'OK'
SELECT dblink_error_message('a');
SELECT dblink_disconnect('a');
