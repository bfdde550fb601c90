-- Ported from tests/sync_diff.rs::dblink_query_rows_with_each_fail_flag.
-- dblink() returns a query's rows with fail_on_error omitted, true and false;
-- NULL and '' survive; a query without rows gives an empty set.
SELECT dblink_connect('a', :'dsn');
-- must be 3 rows: ('1', '1x'), ('2', '2x'), ('3', '3x')
SELECT * FROM dblink('a', 'select g, g::text || ''x'' from generate_series(1, 3) g') AS t(i text, s text);
-- the same 3 rows
SELECT * FROM dblink('a', 'select g, g::text || ''x'' from generate_series(1, 3) g', true) AS t(i text, s text);
-- the same 3 rows
SELECT * FROM dblink('a', 'select g, g::text || ''x'' from generate_series(1, 3) g', false) AS t(i text, s text);
-- must be one row: (NULL, '')
SELECT * FROM dblink('a', 'select null::int, ''''', false) AS t(x text, y text);
-- must be 0 rows
SELECT * FROM dblink('a', 'select 1 where false', true) AS t(x text);
-- 0 rows
SELECT * FROM dblink('a', 'select 1 where false', false) AS t(x text);
SELECT dblink_disconnect('a');
