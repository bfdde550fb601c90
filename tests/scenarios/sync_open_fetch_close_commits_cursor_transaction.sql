-- Ported from tests/sync_diff.rs::open_fetch_close_named_commits_the_cursor_transaction.
-- dblink_open begins a transaction, fetch counts (0, negative) move the
-- cursor, the last close commits.
SELECT dblink_connect('a', :'dsn');
-- must be 'idle'
\state a
-- must be 'OK'
SELECT dblink_open('a', 'c1', 'select g from generate_series(1, 5) g', true);
-- must be 'idle in transaction'
\state a
-- must be rows ('1'), ('2')
SELECT * FROM dblink_fetch('a', 'c1', 2) AS t(x text);
SELECT * FROM dblink_fetch('a', 'c1', 2, true) AS t(x text);
-- must be one row ('5')
SELECT * FROM dblink_fetch('a', 'c1', 2, false) AS t(x text);
-- must be 0 rows
SELECT * FROM dblink_fetch('a', 'c1', 2, false) AS t(x text);
-- must be 0 rows
SELECT * FROM dblink_fetch('a', 'c1', 0, true) AS t(x text);
-- must be one row ('5')
SELECT * FROM dblink_fetch('a', 'c1', -1, true) AS t(x text);
-- must be rows ('4'), ('3')
SELECT * FROM dblink_fetch('a', 'c1', -2, true) AS t(x text);
-- must be 'OK'
SELECT dblink_close('a', 'c1', false);
-- must be 'idle'
\state a
SELECT dblink_open('a', 'c6', 'values (1), (2)', false);
-- must be rows ('1'), ('2')
SELECT * FROM dblink_fetch('a', 'c6', 5) AS t(x text);
SELECT dblink_close('a', 'c6');
-- must be 'idle'
\state a
SELECT dblink_disconnect('a');
