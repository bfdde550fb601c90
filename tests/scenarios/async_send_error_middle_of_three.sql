-- Was tests/async_diff.rs send_error_in_the_middle_of_three_statements.
-- 'select 1; select 1/0; select 3': '1', then the error (one NOTICE
-- 22012, no rows), then the end: 'select 3' never runs.
SELECT dblink_connect('a', :'dsn');
-- must be 1
SELECT dblink_send_query('a', 'select 1; select 1/0; select 3');
-- must be '1'
SELECT * FROM dblink_get_result('a', false) AS t(x int);
-- must be (0 rows) after one NOTICE 22012
SELECT * FROM dblink_get_result('a', false) AS t(x int);
-- must be (0 rows): the end, no '3'
SELECT * FROM dblink_get_result('a', false) AS t(x int);
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', false) AS t(x int);
SELECT dblink_disconnect('a');
