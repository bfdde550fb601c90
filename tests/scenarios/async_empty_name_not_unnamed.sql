-- Was tests/async_diff.rs empty_string_name_is_distinct_from_unnamed.
-- '' is an ordinary connection name, distinct from the unnamed connection.
SELECT dblink_connect('', :'dsn');
-- must be 1
SELECT dblink_send_query('', 'select 1');
-- must be one row '1'
SELECT * FROM dblink_get_result('', true) AS t(x int);
-- must fail: ERROR 08003 connection not available
SELECT dblink_disconnect();
-- must be 'OK'
SELECT dblink_disconnect('');
