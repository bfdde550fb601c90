-- Was tests/async_diff.rs connect_names_are_case_sensitive.
-- 'c' and 'C' are two connections.
SELECT dblink_connect('c', :'dsn');
SELECT dblink_connect('C', :'dsn');
-- must be 1
SELECT dblink_send_query('C', 'select ''U''');
-- must be (0 rows): nothing was sent on c
SELECT * FROM dblink_get_result('c', true) AS t(x text);
-- must be one row 'U'
SELECT * FROM dblink_get_result('C', true) AS t(x text);
SELECT dblink_disconnect('c');
SELECT dblink_disconnect('C');
