-- Was tests/async_diff.rs send_after_rows_result_before_final_get.
-- A send after a rows result but before the final (NULL) result returns 0
-- with one NOTICE; then the final get is empty.
SELECT dblink_connect('a', :'dsn');
-- must be 1
SELECT dblink_send_query('a', 'select 7');
-- must be '7'
SELECT * FROM dblink_get_result('a', true) AS t(x int);
-- must be 0 after one NOTICE
SELECT dblink_send_query('a', 'select 8');
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', true) AS t(x int);
SELECT dblink_disconnect('a');
