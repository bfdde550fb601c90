-- Was tests/async_diff.rs send_after_error_result_before_final_get.
-- A send after the error result but before the final (NULL) result returns
-- 0 with NOTICE 00000 could not send query: ERROR:  division by zero\n
-- another command is already in progress; dblink_error_message says the
-- same (without the prefix); the final get and another are empty.
SELECT dblink_connect('a', :'dsn');
-- must be 1
SELECT dblink_send_query('a', 'select 1/0');
-- the error (NOTICE 22012), no rows
SELECT * FROM dblink_get_result('a', false) AS t(x int);
-- must be 0 after NOTICE 00000 as above
SELECT dblink_send_query('a', 'select 6');
-- must be 'ERROR:  division by zero\nanother command is already in progress'
SELECT dblink_error_message('a');
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', true) AS t(x int);
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', true) AS t(x int);
SELECT dblink_disconnect('a');
