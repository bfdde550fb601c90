-- Was tests/async_diff.rs send_division_by_zero_get_without_and_with_fail.
-- get_result(false) of a failing query: NOTICE 22012 division by zero with
-- CONTEXT while executing query on dblink connection named "a", no rows;
-- dblink_error_message is 'ERROR:  division by zero' and is kept past the
-- end; get_result(true) raises ERROR 22012 with that CONTEXT, then the end.
-- (Not expressible here: pgdblink's result status Error for the failed
-- result and Done for the end.)
SELECT dblink_connect('a', :'dsn');
-- must be 1
SELECT dblink_send_query('a', 'select 1/0');
-- must be (0 rows) after NOTICE 22012 division by zero, CONTEXT ... "a"
SELECT * FROM dblink_get_result('a', false) AS t(x int);
-- must be 'ERROR:  division by zero'
SELECT dblink_error_message('a');
-- must be (0 rows): the end
SELECT * FROM dblink_get_result('a', false) AS t(x int);
-- must still be 'ERROR:  division by zero'
SELECT dblink_error_message('a');
-- must be 1
SELECT dblink_send_query('a', 'select 1/0');
-- must fail: ERROR 22012 division by zero, CONTEXT ... "a"
SELECT * FROM dblink_get_result('a', true) AS t(x int);
-- must be (0 rows): the end
SELECT * FROM dblink_get_result('a', true) AS t(x int);
SELECT dblink_disconnect('a');
