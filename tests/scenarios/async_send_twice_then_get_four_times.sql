-- Was tests/async_diff.rs send_twice_then_get_four_times.
-- A send while a query is in flight returns 0 with NOTICE 00000 could not
-- send query: another command is already in progress, and sets
-- dblink_error_message; the first query's three results come back in
-- order, then the end; the error message is kept across successful gets
-- and cleared by the next query sent.
-- (Not expressible here: pgdblink's result status Command for the
-- CREATE TABLE result and Done for the end.)
SELECT dblink_connect('a', :'dsn');
-- must be 0
SELECT dblink_is_busy('a');
-- must be 'OK'
SELECT dblink_error_message('a');
-- must be 1, no NOTICE
SELECT dblink_send_query('a', 'select 1; select 2; create temp table t(x int)');
-- must be 0 after NOTICE 00000 could not send query: another command is
-- already in progress (no CONTEXT)
SELECT dblink_send_query('a', 'select 3');
-- must be 'another command is already in progress'
SELECT dblink_error_message('a');
-- must be '1'
SELECT * FROM dblink_get_result('a', true) AS t(x int);
-- must be '2'
SELECT * FROM dblink_get_result('a', true) AS t(x int);
-- must be 'CREATE TABLE'
SELECT * FROM dblink_get_result('a', true) AS t(s text);
-- must be (0 rows): the end
SELECT * FROM dblink_get_result('a', true) AS t(x int);
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', true) AS t(x int);
-- must still be 'another command is already in progress'
SELECT dblink_error_message('a');
-- must be 1
SELECT dblink_send_query('a', 'select 4');
-- must be 'OK': cleared by the send
SELECT dblink_error_message('a');
-- must be '4'
SELECT * FROM dblink_get_result('a', true) AS t(x int);
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', true) AS t(x int);
SELECT dblink_disconnect('a');
