-- Was tests/async_diff.rs send_unique_violation.
-- The third statement of a batch violates a primary key: CREATE TABLE and
-- INSERT 0 1 come back, then NOTICE 23505 with DETAIL Key (x)=(1) already
-- exists.; dblink_error_message is 'ERROR:  duplicate key value violates
-- unique constraint "u_pkey"\nDETAIL:  Key (x)=(1) already exists.'.
SELECT dblink_connect('a', :'dsn');
-- must be 1
SELECT dblink_send_query('a', 'create temp table u(x int primary key); insert into u values (1); insert into u values (1)');
-- must be 'CREATE TABLE'
SELECT * FROM dblink_get_result('a', true) AS t(s text);
-- must be 'INSERT 0 1'
SELECT * FROM dblink_get_result('a', true) AS t(s text);
-- must be (0 rows) after one NOTICE 23505, DETAIL Key (x)=(1) already exists.
SELECT * FROM dblink_get_result('a', false) AS t(s text);
-- must be the text above
SELECT dblink_error_message('a');
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', true) AS t(s text);
SELECT dblink_disconnect('a');
