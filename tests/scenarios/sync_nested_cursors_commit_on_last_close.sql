-- Ported from tests/sync_diff.rs::nested_cursors_commit_on_last_close.
-- Two cursors: only the close of the last one commits.
SELECT dblink_connect('a', :'dsn');
SELECT dblink_open('a', 'c1', 'select 1');
SELECT dblink_open('a', 'c2', 'select 2');
\state a
SELECT dblink_close('a', 'c1');
-- must be 'idle in transaction'
\state a
-- must be one row ('2')
SELECT * FROM dblink_fetch('a', 'c2', 1) AS t(x text);
SELECT dblink_close('a', 'c2');
-- must be 'idle'
\state a
SELECT dblink_disconnect('a');
