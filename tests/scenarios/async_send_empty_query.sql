-- Was tests/async_diff.rs send_empty_query.
-- An empty query's result (PGRES_EMPTY_QUERY): get_result(true) raises
-- ERROR 08006 could not obtain message string for remote error, CONTEXT
-- while executing query on dblink connection named "a"; dblink_error_message
-- stays 'OK'; get_result(false) shows it as one NOTICE and no rows.
SELECT dblink_connect('a', :'dsn');
-- must be 1
SELECT dblink_send_query('a', '');
-- must fail: ERROR 08006 could not obtain message string for remote error
SELECT * FROM dblink_get_result('a', true) AS t(x int);
-- must be 'OK'
SELECT dblink_error_message('a');
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', true) AS t(x int);
-- must be 1
SELECT dblink_send_query('a', '');
-- must be (0 rows) after one NOTICE
SELECT * FROM dblink_get_result('a', false) AS t(x int);
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', false) AS t(x int);
SELECT dblink_disconnect('a');
