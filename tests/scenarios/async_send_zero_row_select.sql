-- Was tests/async_diff.rs send_zero_row_select.
-- A zero-row SELECT: its result has no rows, then the end has no rows.
-- (Not expressible here: pgdblink's result status Tuples for the first,
-- "zero rows, not the end", and Done for the second.)
SELECT dblink_connect('a', :'dsn');
-- must be 1
SELECT dblink_send_query('a', 'select 1 where false');
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', true) AS t(x int);
-- must be (0 rows): the end
SELECT * FROM dblink_get_result('a', true) AS t(x int);
SELECT dblink_disconnect('a');
