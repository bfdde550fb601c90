-- Was tests/async_diff.rs send_generate_series_many_rows.
-- 500 rows come back in one result, the last (500, '500x'); then the end.
SELECT dblink_connect('a', :'dsn');
-- must be 1
SELECT dblink_send_query('a', 'select g, g::text || ''x'' from generate_series(1, 500) g');
-- must be 500 rows, the last '500' | '500x'
SELECT * FROM dblink_get_result('a', true) AS t(i int, s text);
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', true) AS t(i int, s text);
SELECT dblink_disconnect('a');
