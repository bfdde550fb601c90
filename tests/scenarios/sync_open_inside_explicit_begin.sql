-- Ported from tests/sync_diff.rs::open_inside_explicit_begin_close_leaves_transaction_open.
-- A cursor opened inside the caller's transaction: its close does not commit.
SELECT dblink_connect('a', :'dsn');
SELECT dblink_exec('a', 'BEGIN');
SELECT dblink_open('a', 'c3', 'select 1');
-- must be 'OK'
SELECT dblink_close('a', 'c3');
-- must be 'idle in transaction'
\state a
SELECT dblink_exec('a', 'COMMIT');
-- must be 'idle'
\state a
SELECT dblink_disconnect('a');
