-- Was tests/async_diff.rs send_syntax_error.
-- get_result(true) of 'selec 1' raises ERROR 42601 syntax error at or near
-- "selec"; dblink_error_message is 'ERROR:  syntax error at or near
-- "selec"\nLINE 1: selec 1\n        ^'.
SELECT dblink_connect('a', :'dsn');
-- must be 1
SELECT dblink_send_query('a', 'selec 1');
-- must fail: ERROR 42601 syntax error at or near "selec"
SELECT * FROM dblink_get_result('a', true) AS t(x int);
-- must be the text above
SELECT dblink_error_message('a');
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', true) AS t(x int);
SELECT dblink_disconnect('a');
